// What a job of POST /HttpService/Emit is given and what it is: the contract between the agent and
// its job tables (jobs.ts, copy-jobs.ts).
import type { Logger } from '../log/logger.js';
import type { AgentConfig } from './config.js';
import type { CopyTickets } from './copy-source.js';
import type { CopyRuns } from './copy-runs.js';
import type { PortLocks } from './port-locks.js';
import type { Answer, Envelope } from './protocol.js';
import type { Registry } from './registry.js';

export interface JobContext {
  cfg: AgentConfig;
  registry: Registry;
  locks: PortLocks;
  log: Logger;
  /** Tickets for the physical-copy stream this agent sends, and the copies it receives. */
  tickets: CopyTickets;
  copies: CopyRuns;
}

export interface JobDef {
  run(ctx: JobContext, env: Envelope): Promise<Answer>;
  /** node_mgr's `Extra` for this job, from the raw paras (also on a failed answer, as node_mgr does). */
  extra?(ctx: JobContext, paras: Record<string, unknown>): string;
}
