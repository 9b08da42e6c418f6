// How a storage is shown outside the world: the original's conn_str (hdfs://host:port), and where
// an S3 storage's keys are read from (never the keys). One place for the table, the API and logs.
import type { StorageSettings } from './open.js';

export function connStr(s: StorageSettings): string {
  switch (s.stype) {
    case 'fs':
      return `file://${s.path ?? ''}`;
    case 'HDFS':
      return `hdfs://${s.hostaddr ?? ''}:${s.port ?? ''}`;
    case 's3':
      return `s3://${s.bucket ?? ''}/${s.prefix ?? ''}`;
  }
}

export function credentialsSource(s: StorageSettings): string | null {
  if (s.stype !== 's3') return null;
  return s.credentialsFile !== null ? `file ${s.credentialsFile}` : s.credentialsEnv !== null ? `env ${s.credentialsEnv}` : 'default chain';
}
