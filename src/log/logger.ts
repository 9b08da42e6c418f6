// The process logger: pino, JSON to a file (rotated by size) or to stdout, human readable on a terminal.
// Every object logged goes through redactSecrets, and so does the message text.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger, type DestinationStream } from 'pino';
import { redactSecrets, redactString } from './redact.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: string;
  /** Path prefix of the rotated log files (<prefix>.1.log, …); null/undefined: standard output. */
  file?: string | null;
  format?: 'auto' | 'json' | 'pretty';
  /** Rotation size of the log file, MB. */
  maxFileMb?: number;
  /** Extra fields on every line (member id, …). */
  base?: Record<string, unknown>;
  /** For tests: write here instead of a file or stdout. */
  stream?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const options: pino.LoggerOptions = {
    level: opts.level ?? 'info',
    base: { pid: process.pid, ...(opts.base ?? {}) },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => redactSecrets(obj),
    },
    hooks: {
      // Message strings can carry connection strings; redact them as well.
      logMethod(args, method) {
        const redacted = args.map((a) => (typeof a === 'string' ? redactString(a) : a)) as typeof args;
        method.apply(this, redacted);
      },
    },
    serializers: { err: (e: unknown) => redactSecrets(e) },
  };
  if (opts.stream) return pino(options, opts.stream);
  const pretty = opts.format === 'pretty' || (opts.format !== 'json' && !opts.file && process.stdout.isTTY);
  if (opts.file) {
    mkdirSync(dirname(opts.file), { recursive: true });
    const transport = pino.transport({
      target: 'pino-roll',
      // <prefix>.N.log, a current.log link to the newest, and the last 10 files kept.
      options: { file: opts.file, extension: '.log', size: `${opts.maxFileMb ?? 100}m`, mkdir: true, symlink: true, limit: { count: 10 } },
    }) as DestinationStream;
    return pino(options, transport);
  }
  if (pretty) {
    const transport = pino.transport({
      target: 'pino-pretty',
      options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
    }) as DestinationStream;
    return pino(options, transport);
  }
  return pino(options, pino.destination({ dest: 1, sync: false }));
}

/** A logger for one job: every line carries its id. */
export function jobLogger(log: Logger, jobId: string | number, jobType?: string): Logger {
  return log.child(jobType ? { job_id: String(jobId), job_type: jobType } : { job_id: String(jobId) });
}

/** A logger for one shard: every line carries the cluster and shard ids. */
export function shardLogger(log: Logger, clusterId: string | number, shardId: string | number): Logger {
  return log.child({ cluster_id: String(clusterId), shard_id: String(shardId) });
}
