// Helpers for the guarded transitions every aggregate machine uses. A guard only compares the event's
// discriminator (AggregateLogic.disc) with a constant, which is what lets the Runner memoize.

/** The guard reference `{ type: 'is', params: { v } }`: "the event's discriminator is v". */
export function is<const V extends string>(v: V): { type: 'is'; params: { v: V } } {
  return { type: 'is', params: { v } };
}

/** Transitions to each of `values` except `current`, chosen by the discriminator. */
export function toOthers<const V extends string>(
  values: readonly V[],
  current: V | null,
): Array<{ guard: { type: 'is'; params: { v: V } }; target: V; actions: 'apply' }> {
  return values.filter((v) => v !== current).map((v) => ({ guard: is(v), target: v, actions: 'apply' as const }));
}
