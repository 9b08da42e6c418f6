// Where an application should write now, as the manager's world says (like a compute node that reads
// the primary from the metadata). Polled in the background so writers never wait on HTTP.
import type { Endpoint } from '../../src/storage-node/replication.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** `lookup` answers the primary's endpoint, or undefined when there is none or it cannot tell. */
export function trackPrimary(first: Endpoint, lookup: () => Promise<Endpoint | undefined>, everyMs = 100): { get: () => Endpoint; stop: () => void } {
  let current = first;
  let stopped = false;
  void (async () => {
    while (!stopped) {
      const p = await lookup().catch(() => undefined);
      if (p) current = p;
      await sleep(everyMs);
    }
  })();
  return {
    get: () => current,
    stop: () => {
      stopped = true;
    },
  };
}
