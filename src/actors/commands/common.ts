// What every command check shares: the context the leader supplies (its clock reading and who asked),
// the refusal shape, id reservation, and a builder that stamps events.
import { catalog, type DomainEvent, type EventData, type EventType } from '../../events/catalog.js';
import type { AggId, Cause } from '../../events/envelope.js';
import type { Counters } from '../state.js';
import type { World } from '../world.js';

/** Why a command was refused. `errno` is the original cluster_mgr error number where one exists. */
export type RefusalCode =
  | 'invalid_argument'
  | 'not_found'
  | 'already_exists'
  | 'conflict'
  | 'invalid_state'
  | 'busy'
  | 'last_one'
  | 'no_change'
  | 'no_switch'
  | 'refused';

export interface Refusal {
  ok: false;
  code: RefusalCode;
  /** The request field at fault, e.g. `paras.shard_id`, when there is one. */
  field?: string;
  reason: string;
  errno?: number;
}

export type CommandResult = { ok: true; events: DomainEvent[] } | Refusal;

export function refuse(code: RefusalCode, reason: string, field?: string, errno?: number): Refusal {
  const r: Refusal = { ok: false, code, reason };
  if (field !== undefined) r.field = field;
  if (errno !== undefined) r.errno = errno;
  return r;
}

/**
 * Hands out ids above both the applied counters and what earlier, not yet applied proposals took, so
 * a leader can check several commands before the first commits. Ids are decided here, by the leader,
 * and carried in the events: apply never invents one.
 */
export class IdAllocator {
  private readonly taken: Partial<Counters> = {};

  constructor(private readonly world: World) {}

  take(kind: keyof Counters): number {
    const n = Math.max(this.world.next[kind], this.taken[kind] ?? 0);
    this.taken[kind] = n + 1;
    return n;
  }
}

export interface CommandContext {
  /** The leader's clock when it checks the command; stamped as every event's `at`. */
  at: number;
  cause: Cause;
  /** Shared across commands proposed before the earlier ones apply; a fresh one otherwise. */
  ids?: IdAllocator;
}

/** Builds the events of one command with the context's stamp and the catalog's current versions. */
export class Emitter {
  readonly events: DomainEvent[] = [];
  readonly ids: IdAllocator;

  constructor(
    readonly world: World,
    readonly ctx: CommandContext,
  ) {
    this.ids = ctx.ids ?? new IdAllocator(world);
  }

  emit<T extends EventType>(type: T, agg: AggId, data: EventData<T>): this {
    this.events.push({ type, v: catalog[type].v, agg, at: this.ctx.at, cause: this.ctx.cause, data } as DomainEvent);
    return this;
  }

  done(): CommandResult {
    return { ok: true, events: this.events };
  }
}
