// A linearizable read: ReadIndex, retried within a deadline. A ReadIndex is refused for a while after
// an election (no leader known yet, or the new leader has not committed in its term), so a single
// refusal is not an answer; only the deadline is.
import type { RaftNode } from '../raft/node/index.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const READ_TIMEOUT_MS = 5_000;

export async function confirmedRead(node: Pick<RaftNode, 'readIndex'>, timeoutMs = READ_TIMEOUT_MS): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | null = null;
  for (let pause = 25; Date.now() < deadline; pause = Math.min(pause * 2, 250)) {
    let timer: NodeJS.Timeout | undefined;
    try {
      const left = deadline - Date.now();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no read confirmation within ${timeoutMs} ms`)), left);
      });
      return await Promise.race([node.readIndex(), timeout]);
    } catch (e) {
      last = e as Error;
    } finally {
      clearTimeout(timer);
    }
    await sleep(Math.min(pause, Math.max(0, deadline - Date.now())));
  }
  throw last ?? new Error(`no read confirmation within ${timeoutMs} ms`);
}
