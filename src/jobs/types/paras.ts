// Field specs shared by the job types' paras tables: the limits come from para-limits (the metadata
// columns the values end in), the error numbers per field are the original's.
import { INT_LIMITS as L, STR_LIMITS, USER_RE } from '../../actors/commands/para-limits.js';

/** A count of the original's kind: `missing` when absent or not digits, `range` when out of 1..256. */
export const count = (missing: number, range: number, help: string) => ({ kind: 'int', ...L.count, required: true, missing, bad: missing, range, help }) as const;
export const id = (missing: number, help: string, required = true) => ({ kind: 'int', ...L.id, required, missing, bad: missing, help }) as const;
/** A cluster or shard id, or "-1": the metadata shard in XPanel's requests. */
export const clusterRef = (missing: number, help: string, required = true) =>
  ({ kind: 'string', maxLen: 12, pattern: /^(-1|[0-9]{1,10})$/, patternHelp: 'an id (digits) or -1 for the metadata shard', required, missing, bad: missing, help }) as const;
export const user = { kind: 'string', maxLen: STR_LIMITS.computerUser, pattern: USER_RE, patternHelp: 'a user name of letters, digits and "_"' } as const;
export const password = { kind: 'string', maxLen: STR_LIMITS.computerPassword, secret: true } as const;
export const path = (missing: number, required: boolean, help: string) =>
  ({ kind: 'string', maxLen: STR_LIMITS.path, pattern: /^\/[A-Za-z0-9._/-]*$/, patternHelp: 'an absolute path of letters, digits, ".", "_", "-" and "/"', required, missing, bad: missing, help }) as const;
export const nickName = { kind: 'string', maxLen: STR_LIMITS.nickName, help: 'display name' } as const;
export const port = { kind: 'int', ...L.port } as const;
export const rackId = { kind: 'string', maxLen: STR_LIMITS.rackId, pattern: /^[A-Za-z0-9_.-]*$/, patternHelp: 'letters, digits, ".", "_" and "-"', bad: 70053 } as const;
export const portRange = { kind: 'string', maxLen: 11, pattern: /^\d{1,5}-\d{1,5}$/, patternHelp: '"start-end", e.g. "57000-58000"' } as const;
export const variableName = { kind: 'string', maxLen: 64, pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, patternHelp: 'a variable name', required: true } as const;
