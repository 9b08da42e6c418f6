// Where an S3 storage's keys come from: a file on the member (credentials_file, mode 0600) or
// environment variables named by a prefix (credentials_env); the world and its events only ever
// hold that reference, never the keys. Neither: the SDK's usual chain (AWS_* variables, instance role).
import { readSecretFile } from '../config/secret-file.js';
import { StorageError } from './store.js';

export interface S3Keys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface CredentialsRef {
  credentialsFile: string | null;
  credentialsEnv: string | null;
}

/**
 * The file holds `access_key_id = …` and `secret_access_key = …` lines (and optionally
 * `session_token = …`; `#` comments); the environment `<P>_ACCESS_KEY_ID`, `<P>_SECRET_ACCESS_KEY`
 * and optionally `<P>_SESSION_TOKEN`. undefined: use the SDK's default chain.
 */
export function s3Keys(ref: CredentialsRef, env: NodeJS.ProcessEnv = process.env, warn?: (msg: string) => void): S3Keys | undefined {
  if (ref.credentialsFile !== null) {
    const text = readSecretFile(ref.credentialsFile, 'credentials_file', warn);
    const kv = new Map<string, string>();
    for (const line of text.split(/\r?\n/)) {
      const m = /^\s*([a-z_]+)\s*=\s*(\S+)\s*$/.exec(line);
      if (m) kv.set(m[1]!, m[2]!);
    }
    return keys(kv.get('access_key_id'), kv.get('secret_access_key'), kv.get('session_token'), `credentials_file ${ref.credentialsFile}`, 'access_key_id, secret_access_key');
  }
  if (ref.credentialsEnv !== null) {
    const p = ref.credentialsEnv;
    return keys(env[`${p}_ACCESS_KEY_ID`], env[`${p}_SECRET_ACCESS_KEY`], env[`${p}_SESSION_TOKEN`], `credentials_env ${p}`, `${p}_ACCESS_KEY_ID, ${p}_SECRET_ACCESS_KEY`);
  }
  return undefined;
}

function keys(id: string | undefined, secret: string | undefined, token: string | undefined, where: string, names: string): S3Keys {
  if (!id || !secret) throw new StorageError(`${where}: needs ${names} (one of them is missing or empty)`);
  return { accessKeyId: id, secretAccessKey: secret, ...(token ? { sessionToken: token } : {}) };
}
