// A storage recorded in the world (its kind and settings) made usable on this member: the kind's
// store, with S3 keys read from where the settings point. An HDFS storage needs a configured client.
import type { BackupStorageView } from '../actors/index.js';
import { FsStore } from './fs-store.js';
import { HdfsStore } from './hdfs-store.js';
import { s3Keys } from './s3-credentials.js';
import { S3Store } from './s3-store.js';
import { StorageError, type BackupStore } from './store.js';

/** The settings without the name and times (what a create/update job checks before recording). */
export type StorageSettings = Omit<BackupStorageView, 'name' | 'createdAt' | 'changedAt'>;

export interface OpenOptions {
  /** The `hdfs` command (config hdfs_client); '' or undefined: HDFS storages cannot be used. */
  hdfsClient?: string;
  env?: NodeJS.ProcessEnv;
  warn?: (msg: string) => void;
}

/** Why this member cannot use a storage of this kind at all (before any I/O), or null. */
export function kindRefusal(stype: StorageSettings['stype'], o: OpenOptions): string | null {
  return stype === 'HDFS' && !o.hdfsClient ? 'stype HDFS needs an HDFS client: set hdfs_client (the path of the Hadoop hdfs command) in cluster_mgr.cnf on every member' : null;
}

export function openStore(s: StorageSettings, o: OpenOptions = {}): BackupStore {
  const refused = kindRefusal(s.stype, o);
  if (refused !== null) throw new StorageError(refused);
  switch (s.stype) {
    case 'fs':
      return new FsStore(s.path!);
    case 'HDFS':
      return new HdfsStore(o.hdfsClient!, s.hostaddr!, s.port!);
    case 's3':
      return new S3Store({ endpoint: s.endpoint, bucket: s.bucket!, prefix: s.prefix ?? '', region: s.region ?? 'us-east-1' }, s3Keys(s, o.env, o.warn));
  }
}
