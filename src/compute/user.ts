// The cluster's user on a compute node (db_clusters' computer_user): a login superuser, as kunlun-server
// expects. Compare first: a rerun with the right password changes nothing. Role names cannot be bound
// parameters, so the name is quoted with escapeIdentifier; the password goes as a SCRAM verifier
// computed here, quoted with escapeLiteral, so the plaintext is in no statement.
import pg from 'pg';
import { scramMatches, scramVerifier } from './scram.js';

export type UserChange = 'created' | 'updated' | 'unchanged';

export async function ensureClusterUser(c: pg.ClientBase, user: string, password: string): Promise<UserChange> {
  if (user === '' || user.length > 63) throw new Error(`compute user name must have 1 to 63 characters, got ${user.length}`);
  const r = await c.query<{ rolcanlogin: boolean; rolsuper: boolean; rolpassword: string | null }>(
    'SELECT rolcanlogin, rolsuper, rolpassword FROM pg_authid WHERE rolname = $1',
    [user],
  );
  const role = pg.escapeIdentifier(user);
  const secret = pg.escapeLiteral(scramVerifier(password));
  const cur = r.rows[0];
  if (cur === undefined) {
    await c.query(`CREATE ROLE ${role} WITH LOGIN SUPERUSER PASSWORD ${secret}`);
    return 'created';
  }
  const parts: string[] = [];
  if (!cur.rolcanlogin) parts.push('LOGIN');
  if (!cur.rolsuper) parts.push('SUPERUSER');
  if (!scramMatches(cur.rolpassword, password)) parts.push(`PASSWORD ${secret}`);
  if (parts.length === 0) return 'unchanged';
  await c.query(`ALTER ROLE ${role} WITH ${parts.join(' ')}`);
  return 'updated';
}
