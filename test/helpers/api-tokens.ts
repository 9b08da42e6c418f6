// The API tokens of the members a test starts (members run with api_auth on, like in production):
// one token per role in `dir`/api-tokens (mode 0600), created by the first caller and shared by every
// member and helper started in that directory.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeTokensFile } from '../../src/http/api-access.js';
import { readTokensFile } from '../../src/config/api-tokens.js';
import type { Role } from '../../src/http/route-roles.js';

export type TestTokens = Record<Role, string> & { file: string };

export function testTokens(dir: string): TestTokens {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'api-tokens');
  if (!existsSync(file)) return writeTokensFile(file);
  const t = Object.fromEntries(readTokensFile(file, []).map((x) => [x.role, x.token])) as Record<Role, string>;
  return { ...t, file };
}

/** The Authorization header of a role's token. */
export const bearer = (t: TestTokens, role: Role = 'admin'): Record<string, string> => ({ authorization: `Bearer ${t[role]}` });
