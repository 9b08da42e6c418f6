// create_backup_storage / update_backup_storage / delete_backup_storage (cluster_mgr-api.md §3.17)
// and get_backup_storage (§3.22). A storage is a world record (backup_storage.* commands, projected
// into the backup_storage table); create and update first check the storage itself with a probe
// object, so a wrong path, bucket or credentials is refused then with the storage's own reason.
import type { World } from '../../actors/index.js';
import { refuse } from '../../actors/commands/common.js';
import { storageSettings } from '../../actors/backup-storages.js';
import { deleteRefusal, E_STORAGE_EXISTS, E_STORAGE_IN_USE, E_STORAGE_NOT_FOUND } from '../../actors/commands/backup-storage.js';
import type { ParaReader, Paras } from '../../actors/commands/paras.js';
import { checkStore, kindRefusal, openStore, StorageError, type StorageSettings } from '../../backup-storage/index.js';
import { BACKUP_STORAGE_NAME_RE, S3_FIELD_RE } from '../../events/envelope.js';
import type { Json } from '../../events/schema.js';
import { BACKUP_STORAGE_TYPES, type BackupStorageType } from '../../events/vocab.js';
import { JobError, type JobContext } from '../engine.js';
import type { AttachmentShape, JobTypeDefinition, QueryDefinition } from '../definition.js';
import { obj, req, str } from '../handlers/request.js';
import { path, port } from './paras.js';
import { fail } from './world-checks.js';

/** The original's numbers (§3.17): a field missing (ERR_JSON), a kind it cannot use (ERR_BACKUP_STYPE_NO_SUPPORT). */
const E_MISSING = 70101;
const E_STYPE = 70203;

const FIELDS: Readonly<Record<BackupStorageType, readonly string[]>> = {
  fs: ['path'],
  HDFS: ['hostaddr', 'port'],
  s3: ['endpoint', 'bucket', 'prefix', 'region', 'credentials_file', 'credentials_env'],
};
const ALL_FIELDS = [...new Set(Object.values(FIELDS).flat())];
const EMPTY: StorageSettings = {
  stype: 'fs', path: null, hostaddr: null, port: null, endpoint: null, bucket: null, prefix: null, region: null, credentialsFile: null, credentialsEnv: null,
};

/**
 * The settings a request describes. Update starts from the storage's current settings (XPanel sends
 * the whole row back) unless the kind changes. Fields of another kind are refused by name.
 */
function settingsOf(p: ParaReader, base: StorageSettings | null): StorageSettings {
  const stype = p.has('stype') ? p.oneOf('stype', BACKUP_STORAGE_TYPES, { errno: E_STYPE }) : (base?.stype ?? 'fs');
  for (const f of ALL_FIELDS) {
    if (p.has(f) && !FIELDS[stype].includes(f)) {
      fail(refuse('invalid_argument', `does not apply to stype ${stype} (it takes ${FIELDS[stype].join(', ')})`, `paras.${f}`, E_MISSING));
    }
  }
  const s: StorageSettings = { ...(base !== null && base.stype === stype ? base : EMPTY), stype };
  const text = (k: string, pattern: RegExp, help: string): string | null => (p.has(k) ? p.str(k, { errno: E_MISSING, pattern, patternHelp: help }) : null);
  switch (stype) {
    case 'fs':
      s.path = text('path', /^\/[A-Za-z0-9._/-]*$/, 'an absolute directory path') ?? s.path;
      if (s.path === null) need('path', 'an fs backup storage needs path (an absolute directory, local or a mount)');
      break;
    case 'HDFS':
      s.hostaddr = p.has('hostaddr') ? p.host('hostaddr', E_MISSING) : s.hostaddr;
      s.port = p.has('port') ? p.int('port', { min: 1, max: 65535, errno: E_MISSING }) : s.port;
      if (s.hostaddr === null) need('hostaddr', 'an HDFS backup storage needs hostaddr (its namenode)');
      if (s.port === null) need('port', 'an HDFS backup storage needs port (its namenode\'s)');
      break;
    case 's3':
      s.endpoint = text('endpoint', S3_FIELD_RE.endpoint, 'an http(s):// URL') ?? s.endpoint;
      s.bucket = text('bucket', S3_FIELD_RE.bucket, 'an S3 bucket name (3-63 lower-case letters, digits, "." and "-")') ?? s.bucket;
      s.prefix = text('prefix', S3_FIELD_RE.prefix, 'a key prefix of letters, digits, ".", "_", "-" and "/"') ?? s.prefix;
      s.region = text('region', S3_FIELD_RE.region, 'a region name such as us-east-1') ?? s.region;
      if (p.has('credentials_file') || p.has('credentials_env')) {
        s.credentialsFile = text('credentials_file', /^\/[A-Za-z0-9._/-]*$/, 'an absolute file path');
        s.credentialsEnv = text('credentials_env', S3_FIELD_RE.credentialsEnv, 'an environment variable prefix of capitals, digits and "_"');
      }
      if (s.credentialsFile !== null && s.credentialsEnv !== null) {
        fail(refuse('invalid_argument', 'give credentials_file or credentials_env, not both', 'paras.credentials_env', E_MISSING));
      }
      if (s.bucket === null) need('bucket', 'an s3 backup storage needs bucket');
      break;
  }
  return s;
}

function need(field: string, reason: string): never {
  return fail(refuse('invalid_argument', reason, `paras.${field}`, E_MISSING));
}

/** The settings stored in the job's request (they hold no secret: credentials are a reference). */
function requestSettings(ctx: JobContext): StorageSettings {
  return obj(req(ctx).settings as Json) as unknown as StorageSettings;
}

/** Opens the storage on this member and writes, lists, reads and deletes a probe object. */
async function checkStorage(ctx: JobContext, name: string, s: StorageSettings): Promise<string> {
  const opts = { hdfsClient: String(ctx.cfg.values.hdfs_client ?? ''), warn: (m: string) => ctx.log.warn({ storage: name }, m) };
  const refused = kindRefusal(s.stype, opts);
  if (refused !== null) throw new JobError(E_STYPE, `backup storage ${name}: ${refused}`);
  try {
    const store = openStore(s, opts);
    await checkStore(store);
    return `${store.describe}: a probe object was written, listed, read back and deleted`;
  } catch (e) {
    if (!(e instanceof StorageError)) throw e;
    throw new JobError(E_STORAGE_IN_USE, `backup storage ${name} cannot be used: ${e.message}`, { cause: e });
  }
}

async function createStorage(ctx: JobContext): Promise<Json> {
  const name = str(req(ctx), 'name');
  const s = requestSettings(ctx);
  await ctx.step('check_storage', 2, () => checkStorage(ctx, name, s));
  await ctx.step('register', 2, async () => {
    if (ctx.world.backupStorage(name) !== null) return; // recorded before a leader change
    await ctx.exec({ kind: 'backup_storage.create', name, settings: s });
  });
  return { name, stype: s.stype };
}

async function updateStorage(ctx: JobContext): Promise<Json> {
  const name = str(req(ctx), 'name');
  const s = requestSettings(ctx);
  await ctx.step('check_storage', 2, () => checkStorage(ctx, name, s));
  await ctx.step('update', 2, async () => {
    const cur = ctx.world.backupStorage(name);
    if (cur === null) throw new JobError(E_STORAGE_NOT_FOUND, `backup storage ${name} does not exist`);
    if (JSON.stringify(storageSettings(cur)) === JSON.stringify({ ...storageSettings(cur), ...s })) return 'nothing to change';
    await ctx.exec({ kind: 'backup_storage.update', name, settings: s });
    return 'updated';
  });
  return { name, stype: s.stype };
}

async function deleteStorage(ctx: JobContext): Promise<Json> {
  const name = str(req(ctx), 'name');
  await ctx.step('unregister', 1, async () => {
    if (ctx.world.backupStorage(name) === null) return; // removed before a leader change
    await ctx.exec({ kind: 'backup_storage.delete', name });
  });
  return { name };
}

// ---- definitions ----

const nameSpec = { kind: 'string', maxLen: 64, pattern: BACKUP_STORAGE_NAME_RE, patternHelp: 'a name of letters, digits, ".", "_" and "-" (64 at most)', required: true, missing: E_MISSING, bad: E_MISSING, help: 'the storage\'s name' } as const;
const settingsSpec = {
  name: nameSpec,
  stype: { kind: 'enum', values: BACKUP_STORAGE_TYPES, bad: E_STYPE, help: 'fs (a directory; the default on create), s3, or HDFS (only where hdfs_client is configured)' },
  path: path(E_MISSING, false, 'fs: an absolute directory, local or a mount (NFS …) every member sees'),
  hostaddr: { kind: 'host', bad: E_MISSING, help: 'HDFS: the namenode' },
  port: { ...port, bad: E_MISSING, help: 'HDFS: the namenode\'s port' },
  endpoint: { kind: 'string', maxLen: 512, pattern: S3_FIELD_RE.endpoint, patternHelp: 'an http(s):// URL', bad: E_MISSING, help: 's3: the endpoint URL of an S3-compatible server (absent: AWS)' },
  bucket: { kind: 'string', maxLen: 63, pattern: S3_FIELD_RE.bucket, patternHelp: 'an S3 bucket name', bad: E_MISSING, help: 's3: the bucket (required for s3)' },
  prefix: { kind: 'string', maxLen: 512, pattern: S3_FIELD_RE.prefix, patternHelp: 'a key prefix', bad: E_MISSING, help: 's3: key prefix inside the bucket' },
  region: { kind: 'string', maxLen: 64, pattern: S3_FIELD_RE.region, patternHelp: 'a region name', bad: E_MISSING, help: 's3: region (default us-east-1)' },
  credentials_file: path(E_MISSING, false, 's3: a file on every member (mode 0600) with access_key_id = … and secret_access_key = … lines'),
  credentials_env: { kind: 'string', maxLen: 64, pattern: S3_FIELD_RE.credentialsEnv, patternHelp: 'capitals, digits and "_"', bad: E_MISSING, help: 's3: prefix P of the environment variables P_ACCESS_KEY_ID and P_SECRET_ACCESS_KEY on every member' },
} as const;
const ATTACHMENT: AttachmentShape = { description: 'XPanel reads only the top-level status and error_info; the result names the storage', keys: {} };
const lock = (name: string): string => `backup_storage/${name}`;

function storageName(p: ParaReader): string {
  return p.str('name', { errno: E_MISSING, max: 64, pattern: BACKUP_STORAGE_NAME_RE, patternHelp: 'a name of letters, digits, ".", "_" and "-"' });
}

/** create and update: the same paras and shape; they differ in their check against the world and their last step. */
const settingsJob = (d: Pick<JobTypeDefinition, 'name' | 'summary' | 'accept' | 'steps' | 'run'>): JobTypeDefinition => ({
  kind: 'job',
  // HDFS where this member has no HDFS client: refused before the job exists (the job checks again).
  configCheck(paras, cfg) {
    const refused = paras.stype === 'HDFS' ? kindRefusal('HDFS', { hdfsClient: String(cfg.values.hdfs_client ?? '') }) : null;
    return refused === null ? null : { field: 'paras.stype', reason: refused, errno: E_STYPE };
  },
  role: 'operator',
  sync: false,
  internal: false,
  missingParas: E_MISSING,
  paras: settingsSpec,
  attachment: ATTACHMENT,
  writes: ['backup_storage'],
  ...d,
});

export const createBackupStorageJob = settingsJob({
  name: 'create_backup_storage',
  summary: 'register a backup storage (a directory, an S3 bucket or HDFS) after checking it with a probe object',
  accept(world: World, p: ParaReader) {
    const name = storageName(p);
    if (world.backupStorage(name) !== null) fail(refuse('already_exists', `backup storage ${name} exists`, 'paras.name', E_STORAGE_EXISTS));
    return { request: { name, settings: settingsOf(p, null) as unknown as Json }, cluster: null, lock: lock(name) };
  },
  steps: ['check_storage', 'register'],
  run: createStorage,
});

export const updateBackupStorageJob = settingsJob({
  name: 'update_backup_storage',
  summary: 'change the settings of a backup storage (checked again with a probe object)',
  accept(world: World, p: ParaReader) {
    const name = storageName(p);
    const cur = world.backupStorage(name);
    if (cur === null) fail(refuse('not_found', `backup storage ${name} does not exist`, 'paras.name', E_STORAGE_NOT_FOUND));
    return { request: { name, settings: settingsOf(p, storageSettings(cur)) as unknown as Json }, cluster: null, lock: lock(name) };
  },
  steps: ['check_storage', 'update'],
  run: updateStorage,
});

export const deleteBackupStorageJob: JobTypeDefinition = {
  kind: 'job',
  name: 'delete_backup_storage',
  role: 'admin',
  sync: false,
  internal: false,
  summary: 'unregister a backup storage (refused while it holds backups a cluster needs; its files are left in place)',
  missingParas: E_MISSING,
  paras: { name: nameSpec },
  accept(world: World, p: ParaReader, _e, _paras: Paras) {
    const name = storageName(p);
    if (world.backupStorage(name) === null) fail(refuse('not_found', `backup storage ${name} does not exist`, 'paras.name', E_STORAGE_NOT_FOUND));
    const inUse = deleteRefusal(name, world.backupsIn(name));
    if (inUse !== null) fail(inUse);
    return { request: { name }, cluster: null, lock: lock(name) };
  },
  steps: ['unregister'],
  run: deleteStorage,
  attachment: ATTACHMENT,
  writes: ['backup_storage'],
};

export const getBackupStorageQuery: QueryDefinition = {
  kind: 'query',
  sync: true,
  internal: false,
  name: 'get_backup_storage',
  role: 'read',
  summary: 'the backup storages',
  missingParas: 70001,
  paras: {},
  attachment: {
    description: 'one entry per storage, by name: XPanel reads name, stype, hostaddr and port (HDFS namenode; "" for other kinds)',
    keys: {
      list_backup_storage: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            stype: { type: 'string', enum: BACKUP_STORAGE_TYPES },
            hostaddr: { type: 'string' },
            port: { type: 'string' },
            conn_str: { type: 'string', description: 'file:///dir, s3://bucket/prefix or hdfs://host:port' },
            path: { type: 'string', optional: true },
            endpoint: { type: 'string', optional: true },
            bucket: { type: 'string', optional: true },
            prefix: { type: 'string', optional: true },
            region: { type: 'string', optional: true },
            credentials: { type: 'string', optional: true, description: 'where the keys are read: "file <path>", "env <prefix>" or "default chain" (never the keys)' },
          },
        },
      },
    },
  },
};
