// Backup storages: one interface (store.ts) over a directory, an S3 bucket and HDFS, opened from the
// settings the world records (open.ts), checked with a probe object (probe.ts).
export { checkKey, StorageError, type BackupStore, type PutOptions, type PutResult, type StoredObject } from './store.js';
export { checkStore } from './probe.js';
export { kindRefusal, openStore, type OpenOptions, type StorageSettings } from './open.js';
export { FsStore } from './fs-store.js';
export { S3Store, PART_SIZE } from './s3-store.js';
export { HdfsStore } from './hdfs-store.js';
export { s3Keys, type S3Keys } from './s3-credentials.js';
export { connStr, credentialsSource } from './describe.js';
