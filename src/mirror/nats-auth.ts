// How cluster_mgr's NATS clients (the mirror, status publisher, replay, watch) authenticate: user and
// password, a .creds file (user JWT + nkey seed) or a bare nkey seed, as nats.js takes them.
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from 'nats';
import { readSecretFile } from '../config/secret-file.js';
import type { NatsCredentials } from '../config/member-secrets.js';

export type { NatsCredentials } from '../config/member-secrets.js';

/** Connection options that carry the credentials (empty for none). */
export function natsAuthOptions(c: NatsCredentials): Partial<ConnectionOptions> {
  switch (c.kind) {
    case 'none':
      return {};
    case 'password':
      return { user: c.user, pass: c.pass };
    case 'creds': {
      const text = c.text.trim();
      const bytes = new TextEncoder().encode(text);
      return { authenticator: text.includes('BEGIN NATS USER JWT') ? credsAuthenticator(bytes) : nkeyAuthenticator(bytes) };
    }
  }
}

export interface NatsCredentialFlags {
  natsUser?: string;
  natsPasswordFile?: string;
  natsCreds?: string;
}

/**
 * Credentials of a command-line tool (replay, watch): --nats-creds, or --nats-user with the password from
 * --nats-password-file or CLUSTER_MGR_NATS_PASSWORD (never on the command line); else `fallback`
 * (a member's configuration given with --config).
 */
export function natsCredentialsFromFlags(o: NatsCredentialFlags, env: NodeJS.ProcessEnv, fallback: NatsCredentials): NatsCredentials {
  if (o.natsCreds) return { kind: 'creds', text: readSecretFile(o.natsCreds, '--nats-creds') };
  const user = o.natsUser ?? env.CLUSTER_MGR_NATS_USER;
  if (!user) return fallback;
  const pass = o.natsPasswordFile ? readSecretFile(o.natsPasswordFile, '--nats-password-file') : env.CLUSTER_MGR_NATS_PASSWORD;
  if (!pass) throw new Error(`NATS user ${user}: give its password with --nats-password-file <file> or CLUSTER_MGR_NATS_PASSWORD`);
  return { kind: 'password', user, pass };
}
