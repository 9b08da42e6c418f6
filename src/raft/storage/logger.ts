// The logging surface raft storage, transport and driver use: a subset of pino's, so a pino logger
// (or a child of one) can be passed as is, and tests can capture what was logged.

export type LogFn = (obj: Record<string, unknown>, msg: string) => void;

export interface RaftLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const noop: LogFn = () => {};
export const silentLogger: RaftLogger = { debug: noop, info: noop, warn: noop, error: noop };
