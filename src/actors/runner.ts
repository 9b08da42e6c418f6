// Runs an aggregate's XState machine on plain snapshots, fast enough to replay hundreds of thousands of
// events a second. The machine stays the definition: the next state value for (state, event type,
// discriminator) is computed once by XState itself (`machine.transition`) and remembered; the context
// is always computed by the same reducer the machine's only action (`apply`, an `assign`) runs.
// This is exact because of three rules every aggregate machine follows, checked here and in tests:
//   1. guards read only the event's discriminator (`logic.disc`), never other data or the context
//      beyond what disc reads;
//   2. every enabled transition runs exactly the action `apply`, and one event enables one transition;
//   3. no `after`, `invoke`, `entry`/`exit` actions or other effects (apply stays pure).
import { createActor, type AnyStateMachine, type StateValue } from 'xstate';
import type { AggKind } from '../events/envelope.js';

export interface AggregateLogic<C, E extends { type: string }> {
  kind: AggKind;
  machine: AnyStateMachine;
  /** The context of a not-yet-existing aggregate (state `absent`), from its id. */
  init(key: number | string): C;
  /** The `apply` action: the next context. Pure. */
  reduce(ctx: C, ev: E): C;
  /** The only thing guards may look at: '' for events whose transitions have no guard. */
  disc(ctx: C, ev: E): string;
  /** States in which the aggregate no longer exists (the world drops it). */
  gone(value: StateValue): boolean;
}

type Scope = Parameters<AnyStateMachine['transition']>[2];

/** The XState persisted snapshot shape (what `getPersistedSnapshot()` returns and `createActor` restores). */
export interface PersistedSnapshot<C> {
  status: 'active' | 'done';
  value: StateValue;
  context: C;
  historyValue: Record<string, never>;
  children: Record<string, never>;
}

interface StateNodeLike {
  key: string;
  type: string;
  states: Record<string, StateNodeLike>;
  after: unknown[];
  invoke: unknown[];
  entry: unknown[];
  exit: unknown[];
}

/** A canonical string for a state value (object keys sorted), used to intern values. */
export function stateKey(v: StateValue): string {
  if (typeof v === 'string') return v;
  const keys = Object.keys(v).sort();
  let s = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    s += (i === 0 ? '' : ',') + k + ':' + stateKey(v[k] as StateValue);
  }
  return s + '}';
}

export class Runner<C, E extends { type: string }> {
  private readonly values: StateValue[] = [];
  private readonly statuses: Array<'active' | 'done'> = [];
  private readonly goneFlags: boolean[] = [];
  private readonly byKey = new Map<string, number>();
  /** Per state: event type -> next state, or -> (discriminator -> next state). */
  private readonly memo: Array<Map<string, number | Map<string, number>>> = [];
  private readonly scope: Scope;
  /** The state id of `absent`, where every aggregate starts. */
  readonly absent: number;

  constructor(readonly logic: AggregateLogic<C, E>) {
    const machine = logic.machine;
    checkPure(machine.root);
    const self = createActor(machine, { input: { key: 0 } });
    const scope = {
      self,
      id: '',
      sessionId: '',
      logger: () => {},
      defer: () => {},
      emit: () => {
        throw new Error(`${logic.kind} machine emitted an event: machines must be pure`);
      },
      system: self.system,
      stopChild: () => {},
      actionExecutor: (a: { type: string }) => {
        throw new Error(`${logic.kind} machine executed action ${a.type}: machines must be pure`);
      },
    };
    this.scope = scope as Scope;
    const init = machine.getInitialSnapshot(this.scope, { key: 0 }) as { value: StateValue; status: string };
    this.absent = this.intern(init.value, 'active');
  }

  value(s: number): StateValue {
    return this.values[s]!;
  }

  status(s: number): 'active' | 'done' {
    return this.statuses[s]!;
  }

  isGone(s: number): boolean {
    return this.goneFlags[s]!;
  }

  /** The next state id, or -1 when the machine does not accept the event in this state. */
  step(s: number, ctx: C, ev: E): number {
    const d = this.logic.disc(ctx, ev);
    const m = this.memo[s]!;
    const hit = m.get(ev.type);
    if (d === '') {
      if (typeof hit === 'number') return hit;
      const n = this.compute(s, ctx, ev);
      m.set(ev.type, n);
      return n;
    }
    let byDisc = hit as Map<string, number> | undefined;
    if (byDisc === undefined) {
      byDisc = new Map();
      m.set(ev.type, byDisc);
    }
    let n = byDisc.get(d);
    if (n === undefined) {
      n = this.compute(s, ctx, ev);
      byDisc.set(d, n);
    }
    return n;
  }

  private compute(s: number, ctx: C, ev: E): number {
    const machine = this.logic.machine;
    const snap = machine.resolveState({ value: this.values[s]!, context: ctx });
    const enabled = machine.getTransitionData(snap, ev) as unknown as Array<{ actions: unknown[] }>;
    if (enabled.length === 0) return -1;
    if (enabled.length !== 1) throw new Error(`${this.logic.kind}: ${ev.type} enables ${enabled.length} transitions`);
    const actions = enabled[0]!.actions;
    const only = actions[0];
    const name = typeof only === 'string' ? only : (only as { type?: unknown } | undefined)?.type;
    if (actions.length !== 1 || name !== 'apply') {
      throw new Error(`${this.logic.kind}: the ${ev.type} transition must run exactly the action 'apply'`);
    }
    const next = machine.transition(snap, ev, this.scope) as { value: StateValue; status: string };
    if (next.status !== 'active' && next.status !== 'done') throw new Error(`${this.logic.kind}: status ${next.status}`);
    return this.intern(next.value, next.status);
  }

  private intern(value: StateValue, status: 'active' | 'done'): number {
    const key = stateKey(value);
    const have = this.byKey.get(key);
    if (have !== undefined) return have;
    const id = this.values.length;
    this.values.push(deepFreeze(value));
    this.statuses.push(status);
    this.goneFlags.push(this.logic.gone(value));
    this.memo.push(new Map());
    this.byKey.set(key, id);
    return id;
  }

  /** The state id of a persisted value (from a snapshot); throws if the machine has no such state. */
  restore(value: StateValue, context: C): number {
    const have = this.byKey.get(stateKey(value));
    if (have !== undefined) return have;
    const machine = this.logic.machine;
    const snap = machine.resolveState({ value, context }) as { status: string };
    const ordered = orderLike(machine.root, value);
    return this.intern(ordered, snap.status === 'done' ? 'done' : 'active');
  }

  persisted(s: number, context: C): PersistedSnapshot<C> {
    return { status: this.statuses[s]!, value: this.values[s]!, context, historyValue: {}, children: {} };
  }
}

/** Rule 3 above, checked on the machine definition. */
function checkPure(node: StateNodeLike): void {
  if (node.after.length > 0 || node.invoke.length > 0 || node.entry.length > 0 || node.exit.length > 0) {
    throw new Error(`state ${node.key}: after/invoke/entry/exit are not allowed in a logged machine`);
  }
  for (const child of Object.values(node.states)) checkPure(child);
}

/** Rebuilds a state value with keys in definition order, as XState itself produces them. */
function orderLike(node: StateNodeLike, value: StateValue): StateValue {
  if (typeof value === 'string') return value;
  const out: Record<string, StateValue> = {};
  for (const k of Object.keys(node.states)) {
    const v = (value as Record<string, StateValue>)[k];
    if (v !== undefined) out[k] = orderLike(node.states[k]!, v);
  }
  return out;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
