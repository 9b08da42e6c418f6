// The event catalog: every event type, its aggregate kind, its current schema version and data schema,
// and the older versions with the upcaster that lifts each one to the next. Types are inferred from it.
import { hostSchema, idSchema, portSchema, S3_FIELD_RE, type AggKind, type Envelope } from './envelope.js';
import {
  bool,
  int,
  json,
  nullable,
  obj,
  oneOf,
  opt,
  rec,
  scalar,
  secret,
  secretPaths,
  str,
  type Infer,
  type Schema,
} from './schema.js';
import {
  ACCESSES,
  BACKUP_STORAGE_TYPES,
  FAILOVER_KINDS,
  FAILOVER_STEPS,
  FENCE_METHODS,
  HA_MODES,
  HEALTHS,
  INSTALL_TASKS,
  INSTANCE_STATUSES,
  MACHINE_ROLES,
  MEMBER_STATES,
  NODE_STATS,
  REJOIN_METHODS,
  SYNC_STATES,
} from './vocab.js';

/** An older schema version and how to lift its data to the next version. */
export interface PastVersion {
  v: number;
  data: Schema<unknown>;
  /** Pure: returns data valid for version v+1 (defaults for added fields, renames, ...). */
  up: (data: never) => unknown;
}

export interface EventDef<K extends AggKind = AggKind, S extends Schema<unknown> = Schema<unknown>> {
  /** The event type, as the catalog's own (internalized) string; set below, once the catalog exists. */
  type: string;
  kind: K;
  v: number;
  data: S;
  doc: string;
  /** Older versions in ascending order; `past[i].v === i + 1`. */
  past: PastVersion[];
}

function def<K extends AggKind, S extends Schema<unknown>>(
  kind: K,
  doc: string,
  data: S,
  past: PastVersion[] = [],
): EventDef<K, S> {
  return { type: '', kind, v: past.length + 1, data, doc, past };
}

// Shared field schemas.
const name = str({ min: 1, max: 128, pattern: /^[A-Za-z0-9_.-]+$/ });
const text = str({ max: 1024 });
const path = str({ max: 512 });
const nonNeg = int({ min: 0 });
/** Observers propose conclusions with the facts behind them, never raw samples (design §3.4). */
export const evidenceSchema = obj({
  /** Manager member that observed it. */
  observer: str({ min: 1, max: 64 }),
  summary: str({ max: 512 }),
  facts: rec(scalar()),
});
export type Evidence = Infer<typeof evidenceSchema>;
const portRange = obj({ lo: portSchema, hi: portSchema });
const instanceStatus = oneOf(INSTANCE_STATUSES);

const machineRoleData = {
  rackId: str({ max: 64 }),
  datadir: nullable(path),
  logdir: nullable(path),
  walLogDir: nullable(path),
  compDatadir: nullable(path),
  portRange,
  totalMemMB: nonNeg,
  totalCpuCores: nonNeg,
  /** The node agent's HTTP port on this host, when known. */
  agentPort: nullable(portSchema),
};

/**
 * Where a backup storage is and how it is reached; only the fields of its kind are set, the others
 * null. S3 credentials are never here: only where a member finds them (a file path or an environment
 * variable prefix, read on the member that uses the storage).
 */
const backupStorageData = {
  stype: oneOf(BACKUP_STORAGE_TYPES),
  /** fs: an absolute directory (local or a mount such as NFS). */
  path: nullable(str({ max: 512, pattern: /^\/[A-Za-z0-9._/-]*$/ })),
  /** HDFS: the namenode. */
  hostaddr: nullable(hostSchema),
  port: nullable(portSchema),
  /** s3: endpoint URL (null: the region's AWS endpoint), bucket, key prefix, region. */
  endpoint: nullable(str({ max: 512, pattern: S3_FIELD_RE.endpoint })),
  bucket: nullable(str({ max: 63, pattern: S3_FIELD_RE.bucket })),
  prefix: nullable(str({ max: 512, pattern: S3_FIELD_RE.prefix })),
  region: nullable(str({ max: 64, pattern: S3_FIELD_RE.region })),
  /** s3: where a member reads the keys (a file, or environment variables <credentialsEnv>_ACCESS_KEY_ID …). */
  credentialsFile: nullable(str({ max: 512, pattern: /^\/[A-Za-z0-9._/-]*$/ })),
  credentialsEnv: nullable(str({ max: 64, pattern: S3_FIELD_RE.credentialsEnv })),
};

/** A kunlun_metadata_db table and a row's key there (its id), as the projection reports them. */
const projectionTable = str({ min: 1, max: 64, pattern: /^[a-z_]+$/ });
const projectionKey = str({ min: 1, max: 64 });

const primaryChangedV1 = obj({ node: nullable(idSchema), prev: nullable(idSchema) });

export const catalog = {
  // ---- machines (server_nodes; one aggregate per host, one role entry per machine_type) ----
  'machine.registered': def(
    'machine',
    'A host is registered for one role (a second role on the same host adds to it).',
    obj({ role: oneOf(MACHINE_ROLES), ...machineRoleData }),
  ),
  'machine.updated': def(
    'machine',
    'Fields of one role of a host changed (only the fields present).',
    obj({
      role: oneOf(MACHINE_ROLES),
      rackId: opt(machineRoleData.rackId),
      datadir: opt(machineRoleData.datadir),
      logdir: opt(machineRoleData.logdir),
      walLogDir: opt(machineRoleData.walLogDir),
      compDatadir: opt(machineRoleData.compDatadir),
      portRange: opt(portRange),
      totalMemMB: opt(nonNeg),
      totalCpuCores: opt(nonNeg),
      agentPort: opt(machineRoleData.agentPort),
    }),
  ),
  'machine.removed': def(
    'machine',
    'One role of a host is removed; the aggregate ends with its last role.',
    obj({ role: oneOf(MACHINE_ROLES) }),
  ),
  'machine.health_changed': def(
    'machine',
    "The host's node agent liveness changed (server_nodes.node_stats).",
    obj({ stats: oneOf(NODE_STATS), evidence: evidenceSchema }),
  ),

  // ---- backup storages (backup_storage; one aggregate per name) ----
  'backup_storage.created': def('backup_storage', 'A backup storage is registered (its check passed).', obj(backupStorageData)),
  'backup_storage.updated': def('backup_storage', 'The settings of a backup storage, all of them as they are now.', obj(backupStorageData)),
  'backup_storage.removed': def('backup_storage', 'The backup storage is unregistered (what it holds is left in place).', obj({})),

  // ---- clusters (db_clusters) ----
  'cluster.created': def(
    'cluster',
    'A cluster is being created (status creating).',
    obj({
      name,
      nickName: str({ max: 128 }),
      haMode: oneOf(HA_MODES),
      owner: str({ max: 64 }),
      business: str({ max: 64 }),
      maxStorageSizeGB: nonNeg,
      maxConnections: nonNeg,
      cpuCores: nonNeg,
      innodbSizeMB: int({ min: 1 }),
      dbcfg: nonNeg,
      compUser: str({ min: 1, max: 64 }),
      /** The compute nodes' superuser password: reconcilers and the metadata memo need it. */
      compPassword: secret(str({ max: 128 })),
    }),
  ),
  'cluster.adopted': def(
    'cluster',
    'A cluster that exists in kunlun_metadata_db is taken over (status inuse).',
    obj({
      name,
      nickName: str({ max: 128 }),
      haMode: oneOf(HA_MODES),
      owner: str({ max: 64 }),
      business: str({ max: 64 }),
      /** db_clusters.memo as found, minus the password (carried in compPassword). */
      memo: json(),
      compUser: nullable(str({ max: 64 })),
      compPassword: nullable(secret(str({ max: 128 }))),
    }),
  ),
  'cluster.status_changed': def(
    'cluster',
    'creating -> inuse, or -> deleting.',
    obj({ status: oneOf(['inuse', 'deleting'] as const) }),
  ),
  'cluster.deleted': def('cluster', 'The cluster is gone (it has no shards or compute nodes left).', obj({})),

  // ---- shards (shards) ----
  'shard.added': def(
    'shard',
    'A storage shard is added to a cluster (status creating; nodes follow as node.added).',
    obj({ cluster: idSchema, name, syncNum: int({ min: 0, max: 64 }) }),
  ),
  'shard.adopted': def(
    'shard',
    'An existing shard is taken over (status inuse).',
    obj({ cluster: idSchema, name, syncNum: int({ min: 0, max: 64 }) }),
  ),
  'shard.status_changed': def(
    'shard',
    'creating -> inuse, or -> deleting.',
    obj({ status: oneOf(['inuse', 'deleting'] as const) }),
  ),
  'shard.removed': def('shard', 'The shard is gone (its nodes were removed first).', obj({})),
  'shard.primary_changed': def(
    'shard',
    "The shard's primary as the manager knows it. v2 added `term`, the Raft term of the leader that " +
      'decided it (the fencing token written with the metadata); v1 events read as term 0 (unknown).',
    obj({ node: nullable(idSchema), prev: nullable(idSchema), term: nonNeg }),
    [{ v: 1, data: primaryChangedV1, up: (d: Infer<typeof primaryChangedV1>) => ({ ...d, term: 0 }) }],
  ),
  'shard.failover_started': def(
    'shard',
    'A failover (dead primary) or switchover (planned) task starts; one at a time per shard.',
    obj({
      task: idSchema,
      kind: oneOf(FAILOVER_KINDS),
      from: nullable(idSchema),
      target: nullable(idSchema),
      term: nonNeg,
      evidence: evidenceSchema,
    }),
  ),
  'shard.failover_step': def(
    'shard',
    'One step of the running task finished (an rbr_consfailover row).',
    obj({
      task: idSchema,
      step: oneOf(FAILOVER_STEPS),
      ok: bool(),
      info: text,
      candidate: nullable(idSchema),
    }),
  ),
  'shard.failover_finished': def(
    'shard',
    'The task ended with `primary` as the primary (recorded in the same batch by shard.primary_changed).',
    obj({ task: idSchema, primary: idSchema }),
  ),
  'shard.failover_aborted': def(
    'shard',
    'The task stopped without a switch; `code` is the 70000+n error number.',
    obj({ task: idSchema, code: int({ min: 0 }), reason: text, evidence: nullable(evidenceSchema) }),
  ),
  'shard.no_switch_set': def(
    'shard',
    'Automatic failover is suppressed until `until` (ms since epoch); setting again moves the end.',
    obj({ until: int({ min: 0 }), reason: text }),
  ),
  'shard.no_switch_cleared': def('shard', 'The no-switch window is removed.', obj({})),

  // ---- storage nodes (shard_nodes) ----
  'node.added': def(
    'node',
    'A storage node joins a shard: status creating, replica, read-only, health unknown.',
    obj({
      cluster: idSchema,
      shard: idSchema,
      hostaddr: hostSchema,
      port: portSchema,
      syncState: oneOf(SYNC_STATES),
      masterPriority: int({ min: 0, max: 1000 }),
      innodbBufferPoolMB: nonNeg,
    }),
  ),
  'node.adopted': def(
    'node',
    'An existing storage node is taken over with its status (role and access follow as events).',
    obj({
      cluster: idSchema,
      shard: idSchema,
      hostaddr: hostSchema,
      port: portSchema,
      syncState: oneOf(SYNC_STATES),
      masterPriority: int({ min: 0, max: 1000 }),
      status: instanceStatus,
    }),
  ),
  'node.status_changed': def('node', 'shard_nodes.status changed.', obj({ status: instanceStatus })),
  'node.role_changed': def(
    'node',
    'member_state changed, or a replica was re-pointed to another source.',
    obj({ role: oneOf(MEMBER_STATES), source: nullable(idSchema) }),
  ),
  'node.access_changed': def(
    'node',
    'The manager made the node read-only or writable (only a shard primary may be writable).',
    obj({ access: oneOf(ACCESSES) }),
  ),
  'node.health_changed': def(
    'node',
    "The leader's probes concluded a new health, with the evidence.",
    obj({ health: oneOf(HEALTHS), evidence: evidenceSchema }),
  ),
  'node.fenced': def(
    'node',
    'An old primary was fenced so it can never accept writes again.',
    obj({ method: oneOf(FENCE_METHODS), task: nullable(idSchema), evidence: evidenceSchema }),
  ),
  'node.needs_rebuild': def(
    'node',
    "The node cannot rejoin by replication alone (errant GTIDs, diverged data): the shard's view lists it.",
    obj({ reason: text, evidence: evidenceSchema }),
  ),
  'node.rejoined': def(
    'node',
    'A fenced or rebuilt node replicates from `source` again.',
    obj({ source: idSchema, method: oneOf(REJOIN_METHODS) }),
  ),
  'node.removed': def('node', 'The node left its shard (shard_nodes row deleted).', obj({})),
  'node.moved': def(
    'node',
    'A node still `creating` takes another port of its machine: its agent could not bind `from` (job.port_skipped says why).',
    obj({ port: portSchema, from: portSchema, job: idSchema }),
  ),

  // ---- compute nodes (comp_nodes) ----
  'comp.added': def(
    'comp',
    'A compute node is added (status creating).',
    obj({ cluster: idSchema, name, hostaddr: hostSchema, port: portSchema }),
  ),
  'comp.adopted': def(
    'comp',
    'An existing compute node is taken over with its status.',
    obj({ cluster: idSchema, name, hostaddr: hostSchema, port: portSchema, status: instanceStatus }),
  ),
  'comp.status_changed': def('comp', 'comp_nodes.status changed.', obj({ status: instanceStatus })),
  'comp.removed': def('comp', 'The compute node is gone.', obj({})),
  'comp.moved': def(
    'comp',
    'A compute node still `creating` takes another port of its machine: its agent could not bind `from`.',
    obj({ port: portSchema, from: portSchema, job: idSchema }),
  ),

  // ---- jobs (cluster_general_job_log) ----
  'job.created': def(
    'job',
    'A job was accepted after validation (status not_started). `request` is the validated paras with ' +
      'secrets removed; `lock` is the aggregate it holds exclusively until it ends (null: none, e.g. a ' +
      "child job running under its parent's lock); `envelope` is the request envelope as received " +
      "(a child's: built by its parent), secrets removed: cluster_general_job_log.job_info. Absent in " +
      'events written before it existed (job_info is then the request).',
    obj({
      jobType: str({ min: 1, max: 64, pattern: /^[a-z_]+$/ }),
      request: json(),
      cluster: nullable(idSchema),
      parent: nullable(idSchema),
      lock: nullable(str({ max: 300 })),
      // Bounded by job_info's 65,535 bytes (job-envelope.ts), which no more values than that fit in.
      envelope: opt(json({ maxDepth: 10, maxNodes: 65_536 })),
    }),
  ),
  'job.step_started': def(
    'job',
    'A step begins (status ongoing); `index` of `total` steps.',
    obj({ step: str({ min: 1, max: 64 }), index: nonNeg, total: nonNeg }),
  ),
  'job.step_finished': def(
    'job',
    'The running step ended; progress is `done` of `total`.',
    obj({ step: str({ min: 1, max: 64 }), ok: bool(), done: nonNeg, total: nonNeg, info: text }),
  ),
  'job.step_progressed': def(
    'job',
    'The running step says how far it has got (a copy: bytes, rate); only the latest is kept, with the step.',
    obj({ step: str({ min: 1, max: 64 }), note: str({ max: 512 }) }),
  ),
  'job.port_skipped': def(
    'job',
    "The job's instance `instance` (node/<id> or comp/<id>) could not use `hostaddr`:`port` (`reason`, the agent's answer); " +
      "the job's later placements skip that port, and its record lists it.",
    obj({ instance: str({ min: 1, max: 64 }), hostaddr: hostSchema, port: portSchema, reason: text }),
  ),
  'job.instance_task': def(
    'job',
    'The job sent (`ongoing`) or ended (`done`/`failed`, `answer` what came back) an install or uninstall of the ' +
      'instance at `hostaddr`:`port` through its agent: a piece of its mysql_pg_install_log row of `task` ' +
      '(`request` is what was asked, without secrets).',
    obj({
      task: oneOf(INSTALL_TASKS),
      hostaddr: hostSchema,
      port: portSchema,
      status: oneOf(['ongoing', 'done', 'failed'] as const),
      request: opt(json()),
      answer: opt(json()),
    }),
  ),
  'job.done': def('job', 'The job succeeded (exactly once).', obj({ result: json() })),
  'job.failed': def(
    'job',
    'The job failed (exactly once); `code` is the 70000+n error number.',
    obj({ code: int({ min: 0 }), info: text, result: json() }),
  ),
  'job.pruned': def(
    'job',
    'The ended job leaves the world after the retention (job_retention_count / job_retention_hours); its cluster_general_job_log row stays and get_status answers from it.',
    obj({}),
  ),

  // ---- manager members (cluster_mgr_nodes) ----
  'manager.member_added': def(
    'manager',
    'A manager member joined the Raft group.',
    obj({ host: hostSchema, raftPort: portSchema, httpPort: portSchema, prometheusPort: nullable(portSchema) }),
  ),
  'manager.member_removed': def('manager', 'A manager member left the group.', obj({})),
  'manager.leader_elected': def(
    'manager',
    'This member leads from `term` (strictly increasing); it is shown as `source` in cluster_mgr_nodes.',
    obj({ term: int({ min: 1 }) }),
  ),
  'manager.ids_reserved': def(
    'manager',
    'The leader found ids in use outside the log (e.g. old cluster_general_job_log rows of the metadata ' +
      'shard): new clusters, shards, nodes, compute nodes and jobs get ids from these values up, never below.',
    obj({ cluster: int({ min: 1 }), shard: int({ min: 1 }), node: int({ min: 1 }), comp: int({ min: 1 }), job: int({ min: 1 }) }),
  ),
  'manager.projection_row_failed': def(
    'manager',
    'The leader cannot write this row of kunlun_metadata_db (`table`, `key` its id, `reason` without the ' +
      'value): the row is left as the table has it and retried alone while everything else is projected. ' +
      'Proposed when a row starts failing or fails for another reason, not on every retry.',
    obj({ table: projectionTable, key: projectionKey, reason: str({ min: 1, max: 512 }) }),
  ),
  'manager.projection_row_cleared': def(
    'manager',
    'A row reported by manager.projection_row_failed no longer fails: it was `written`, or it is `gone` ' +
      '(no longer part of the topology).',
    obj({ table: projectionTable, key: projectionKey, how: oneOf(['written', 'gone'] as const) }),
  ),
} as const satisfies Record<string, EventDef>;

type Catalog = typeof catalog;
export type EventType = keyof Catalog;
export type EventData<T extends EventType> = Infer<Catalog[T]['data']>;
/** Every event, discriminated by `type`. */
export type DomainEvent = { [T in EventType]: Envelope<T, EventData<T>> }[EventType];
export type EventOf<T extends EventType> = Extract<DomainEvent, { type: T }>;
type KindOf<T extends EventType> = Catalog[T]['kind'];
/** The events of one aggregate kind, e.g. `EventsOfKind<'node'>`. */
export type EventsOfKind<K extends AggKind> = { [T in EventType]: KindOf<T> extends K ? EventOf<T> : never }[EventType];

export const EVENT_TYPES = Object.keys(catalog) as EventType[];

const DEFS: ReadonlyMap<string, EventDef> = new Map(
  Object.entries(catalog).map(([type, d]: [string, EventDef]) => {
    d.type = type;
    return [type, d];
  }),
);

export function eventDef(type: string): EventDef | undefined {
  return DEFS.get(type);
}

/** Secret field paths under `data`, per event type (computed once from the schemas). */
export const SECRET_PATHS: ReadonlyMap<EventType, readonly string[]> = new Map(
  EVENT_TYPES.map((t) => {
    const d = catalog[t] as EventDef;
    const all = new Set([...secretPaths(d.data), ...d.past.flatMap((p) => secretPaths(p.data))]);
    return [t, [...all]] as const;
  }).filter(([, paths]) => paths.length > 0),
);
