// Every configuration key cluster_mgr accepts: the original cluster_mgr.cnf keys (same names, types and
// ranges, so an existing file loads unchanged) plus the keys this implementation adds. One table drives
// parsing, validation, defaults, the shipped sample file's check and the docs.

export type KeyType =
  | { kind: 'int'; min: number; max: number }
  | { kind: 'string'; nonEmpty?: boolean; pattern?: RegExp; patternHelp?: string }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'bool' };

export interface KeyDef {
  name: string;
  type: KeyType;
  default: string;
  help: string;
  /** Never logged or printed: the value is replaced by "<redacted>". */
  secret?: boolean;
  /** Refused from `--set` (command lines are visible to every local user): says where to put it instead. */
  notOnCommandLine?: string;
  /** Accepted because the original cluster_mgr accepts it, but has no effect here; says why. */
  ignored?: string;
  origin: 'original' | 'new';
}

const int = (min: number, max: number): KeyType => ({ kind: 'int', min, max });
const str = (nonEmpty = false): KeyType => ({ kind: 'string', nonEmpty });
const hostPortList = {
  kind: 'string',
  pattern: /^$|^[A-Za-z0-9.\-:[\]]+:\d{1,5}(,[A-Za-z0-9.\-:[\]]+:\d{1,5})*,?$/,
  patternHelp: 'a comma-separated list of host:port',
} as const satisfies KeyType;

export const KEYS: readonly KeyDef[] = [
  // --- keys of the original cluster_mgr.cnf -------------------------------------------------------
  { name: 'meta_group_seeds', type: hostPortList, default: '', origin: 'original',
    help: 'metadata shard nodes, host:port,… (1 for no_rep, 3 or more for rbr)' },
  { name: 'meta_user', type: str(true), default: 'clustmgr', origin: 'original',
    help: 'account on the metadata shard, also used on storage nodes' },
  { name: 'meta_pwd', type: str(), default: '', origin: 'original', secret: true,
    help: 'password of meta_user' },
  { name: 'mysql_connect_timeout', type: int(1, 1_000_000), default: '10', origin: 'original',
    help: 'MySQL connect timeout, seconds' },
  { name: 'mysql_read_timeout', type: int(1, 1_000_000), default: '20', origin: 'original',
    help: 'MySQL statement timeout, seconds' },
  { name: 'mysql_write_timeout', type: int(1, 1_000_000), default: '20', origin: 'original',
    help: 'MySQL write timeout, seconds', ignored: 'mysql2 has one statement timeout: mysql_read_timeout' },
  { name: 'mysql_max_packet_size', type: int(65_535, 1_073_741_824), default: '1073741824', origin: 'original',
    help: 'largest MySQL packet, bytes', ignored: 'the server side max_allowed_packet governs' },
  { name: 'max_log_file_size', type: int(10, 10_000), default: '100', origin: 'original',
    help: 'log file size before it is rotated, MB' },
  { name: 'num_worker_threads', type: int(1, 100), default: '3', origin: 'original',
    help: 'worker threads of the maintenance loops',
    ignored: 'work is asynchronous on one event loop; concurrency is bounded per shard instead' },
  { name: 'check_shard_interval', type: int(1, 100), default: '3', origin: 'original',
    help: 'seconds between shard checks (see probe_interval_ms)' ,
    ignored: 'probe_interval_ms sets the probe period with sub-second precision' },
  { name: 'thread_work_interval', type: int(1, 100), default: '3', origin: 'original',
    help: 'main loop period, seconds', ignored: 'reconcilers react to events instead of polling' },
  { name: 'storage_sync_interval', type: int(1, 300), default: '60', origin: 'original',
    help: 'storage statistics sync period, seconds' },
  { name: 'commit_log_retention_hours', type: int(24, 720), default: '24', origin: 'original',
    help: 'age after which commit log rows no prepared branch needs are pruned, hours' },
  { name: 'statement_retries', type: int(1, 10_000), default: '3', origin: 'original',
    help: 'tries of a statement when the connection breaks' },
  { name: 'statement_retry_interval_ms', type: int(1, 1_000_000), default: '100', origin: 'original',
    help: 'pause between statement tries, ms' },
  { name: 'brpc_http_port', type: int(1000, 65_535), default: '5000', origin: 'original',
    help: 'HTTP API port (POST /HttpService/Emit, /api/v1, health, metrics)' },
  { name: 'brpc_raft_port', type: int(1000, 65_535), default: '5001', origin: 'original',
    help: 'Raft port of this member' },
  { name: 'raft_group_member_init_config', type: { kind: 'string', nonEmpty: true,
      pattern: /^([A-Za-z0-9.-]+:\d{1,5}(:\d+(:\d{1,5})?)?,)*[A-Za-z0-9.-]+:\d{1,5}(:\d+(:\d{1,5})?)?,?$/,
      patternHelp: 'comma-separated host:raft_port[:index[:http_port]] of every initial member' },
    default: '127.0.0.1:5001:0,', origin: 'original',
    help: 'initial Raft members, host:raft_port:0 each, comma-terminated as in the original' },
  { name: 'cluster_mgr_tmp_data_path', type: str(true), default: './data', origin: 'original',
    help: 'data directory: Raft log, snapshots (relative paths are relative to the config file)' },
  { name: 'log_file', type: str(true), default: '-', origin: 'original',
    help: 'log file path prefix (<prefix>.N.log files, rotated); "-" logs to standard output' },
  { name: 'global_txn_commit_log_wait_max_sec', type: int(1, 5000), default: '10', origin: 'original',
    help: 'compute nodes\' commit-log wait; a prepared branch younger than this is never aborted' },
  { name: 'backup_allow_replica_delay', type: int(1, 65_535), default: '7200', origin: 'original',
    help: 'largest replica delay accepted for the backup node, seconds' },
  { name: 'prometheus_path', type: str(), default: '', origin: 'original',
    help: 'Prometheus binary directory', ignored: 'metrics are served by every member at /metrics' },
  { name: 'prometheus_port_start', type: int(0, 65_535), default: '57010', origin: 'original',
    help: 'Prometheus listen port', ignored: 'metrics are served by every member at /metrics' },
  { name: 'local_ip', type: str(true), default: '127.0.0.1', origin: 'original',
    help: 'this member\'s address: Raft endpoint and its row in cluster_mgr_nodes' },
  // --- keys this implementation adds ---------------------------------------------------------------
  { name: 'hdfs_client', type: { kind: 'string', pattern: /^$|^\/[A-Za-z0-9._/-]*$/, patternHelp: 'an absolute path' }, default: '', origin: 'new',
    help: 'the Hadoop `hdfs` command (absolute path) backup storages of stype HDFS are used with; empty: HDFS storages are refused' },
  { name: 'backup_keep_count', type: int(0, 100_000), default: '0', origin: 'new',
    help: 'retention: the shard backups of a cluster beyond the newest N are deleted after each manual_backup_cluster (0: no count limit; the newest is always kept)' },
  { name: 'backup_keep_days', type: int(0, 100_000), default: '0', origin: 'new',
    help: 'retention: shard backups older than this many days are deleted after each manual_backup_cluster (0: no age limit; the newest is always kept)' },
  { name: 'http_bind', type: str(), default: '', origin: 'new',
    help: 'address the HTTP API listens on; empty means local_ip' },
  { name: 'api_auth', type: { kind: 'enum', values: ['on', 'off'] }, default: 'on', origin: 'new',
    help: 'on: every API route but /healthz, /readyz and the status page\'s HTML needs a token (or an allowed client); ' +
      'off: the API is open to anyone who reaches it (a warning is logged at every start)' },
  { name: 'api_token', type: str(), default: '', origin: 'new', secret: true,
    notOnCommandLine: 'put it in api_tokens_file (mode 0600) or the environment variable CLUSTER_MGR_API_TOKEN',
    help: 'an admin bearer token of the API (from this file or CLUSTER_MGR_API_TOKEN; never the command line)' },
  { name: 'api_tokens_file', type: str(), default: '', origin: 'new',
    help: 'file of API tokens, one "<role> <token>" a line (role: read, operator or admin); should be mode 0600' },
  { name: 'api_allowed_clients', type: { kind: 'string', pattern: /^$|^[0-9A-Fa-f.:/]{2,49}(,[0-9A-Fa-f.:/]{2,49})*$/,
      patternHelp: 'a comma-separated list of addresses or CIDR blocks (10.0.0.0/8, ::1)' },
    default: '', origin: 'new',
    help: 'hosts (addresses or CIDR blocks) that may call POST /HttpService/Emit without a token, e.g. XPanel\'s' },
  { name: 'api_allowed_origins', type: { kind: 'string', pattern: /^$|^https?:\/\/[A-Za-z0-9.:[\]-]+(,https?:\/\/[A-Za-z0-9.:[\]-]+)*$/,
      patternHelp: 'a comma-separated list of origins such as https://xpanel.example:18080' },
    default: '', origin: 'new',
    help: 'web origins whose pages may call the API from a browser (CORS); empty: none' },
  { name: 'api_tls_cert', type: str(), default: '', origin: 'new',
    help: 'PEM certificate (chain) file: with api_tls_key, the API is served over HTTPS' },
  { name: 'api_tls_key', type: str(), default: '', origin: 'new',
    help: 'PEM private key file of api_tls_cert (should be mode 0600)' },
  { name: 'nats_url', type: str(), default: 'nats://127.0.0.1:4222', origin: 'new',
    help: 'NATS server of the event mirror and status messages; empty turns the mirror off' },
  { name: 'nats_stream', type: { kind: 'string', nonEmpty: true, pattern: /^[A-Za-z0-9_-]+$/,
      patternHelp: 'letters, digits, "_" and "-"' },
    default: 'KUNLUN_EVENTS', origin: 'new', help: 'JetStream stream that mirrors the event log' },
  { name: 'log_level', type: { kind: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] },
    default: 'info', origin: 'new', help: 'lowest level logged' },
  { name: 'log_format', type: { kind: 'enum', values: ['auto', 'json', 'pretty'] }, default: 'auto',
    origin: 'new', help: 'json, pretty (human readable), or auto: pretty on a terminal, json otherwise' },
  { name: 'raft_group_id', type: { kind: 'string', nonEmpty: true, pattern: /^[A-Za-z0-9_.-]{1,64}$/,
      patternHelp: 'letters, digits, ".", "_" and "-"' },
    default: 'kunlun_nodeha', origin: 'new',
    help: 'name of the manager group; members of another group are refused' },
  { name: 'raft_tick_ms', type: int(10, 10_000), default: '100', origin: 'new',
    help: 'Raft tick; heartbeats go every tick' },
  { name: 'raft_election_ticks', type: int(3, 1000), default: '10', origin: 'new',
    help: 'ticks without a leader before an election (randomized up to twice this)' },
  { name: 'brpc_raft_election_timeout_ms', type: int(0, 600_000), default: '0', origin: 'original',
    help: 'the original\'s (braft) election timeout, ms, as cloudnative writes it; when above 0 it sets ' +
      'raft_election_ticks to this divided by raft_tick_ms (rounded up, at least 3); 0 leaves raft_election_ticks' },
  { name: 'raft_snapshot_entries', type: int(100, 100_000_000), default: '10000', origin: 'new',
    help: 'applied entries between snapshots (and log compaction)' },
  { name: 'raft_join', type: { kind: 'bool' }, default: 'false', origin: 'new',
    help: 'start without founding a group: this member waits to be added to a running group (raft_mission add_peer)' },
  { name: 'metadata_retry_interval_ms', type: int(100, 600_000), default: '10000', origin: 'new',
    help: 'how soon the leader tries again a kunlun_metadata_db row it could not write (the rest is written), ms' },
  { name: 'metadata_stall_warn_ms', type: int(100, 3_600_000), default: '10000', origin: 'new',
    help: 'a projection pass the metadata node has not finished after this long is logged as stalled, with the server\'s reason (e.g. waiting for a semi-sync ACK), ms' },
  { name: 'xa_scan_interval_ms', type: int(100, 600_000), default: '2000', origin: 'new',
    help: 'period of the leader\'s XA RECOVER scan of every shard primary and the metadata shard, ms' },
  { name: 'xa_safety_window_sec', type: int(1, 86_400), default: '60', origin: 'new',
    help: 'a prepared branch with no commit-log decision is aborted only after the leader has seen it this long, seconds (at least global_txn_commit_log_wait_max_sec + 2)' },
  { name: 'commit_log_prune_interval_sec', type: int(1, 604_800), default: '3600', origin: 'new',
    help: 'how often the leader prunes commit log rows older than commit_log_retention_hours, seconds' },
  { name: 'probe_interval_ms', type: int(100, 60_000), default: '1000', origin: 'new',
    help: 'period of the leader\'s health probes of every storage node' },
  { name: 'probe_timeout_ms', type: int(100, 60_000), default: '800', origin: 'new',
    help: 'deadline of one probe (connect and queries); past it the node counts as unreachable' },
  { name: 'failover_dead_samples', type: int(1, 100), default: '2', origin: 'new',
    help: 'consecutive corroborated "dead" assessments before a primary is declared dead' },
  { name: 'failover_min_interval_ms', type: int(0, 86_400_000), default: '600000', origin: 'new',
    help: 'anti-flapping: least time between two automatic failovers of one shard, ms' },
  { name: 'failover_wait_applied_ms', type: int(1000, 3_600_000), default: '30000', origin: 'new',
    help: 'how long the candidate may take to apply what it received before the failover gives up, ms' },
  { name: 'auto_rebuild', type: { kind: 'bool' }, default: 'true', origin: 'new',
    help: 'the leader rebuilds a node marked needs_rebuild (a former primary with errant transactions) with a rebuild_node job of its own; the old data is kept aside on the node\'s host' },
  { name: 'auto_rebuild_retry_sec', type: int(10, 604_800), default: '300', origin: 'new',
    help: 'after an automatic rebuild_node failed, how long the leader waits before it tries that node again, seconds' },
  { name: 'job_retention_count', type: int(1, 10_000_000), default: '5000', origin: 'new',
    help: 'the leader keeps this many ended top-level jobs (with their child jobs) in the manager\'s state; older ones leave it ' +
      '(their cluster_general_job_log rows stay, get_status answers from them)' },
  { name: 'job_retention_hours', type: int(0, 87_600), default: '168', origin: 'new',
    help: 'an ended job also leaves the manager\'s state once it ended this many hours ago (0: no age limit, only job_retention_count)' },
  { name: 'rebuild_pv_limit_mb', type: int(0, 100_000), default: '100', origin: 'new',
    help: 'copy rate limit of the copies the leader starts itself (automatic rebuilds, add_nodes seeding), MB/s; 0: none' },
  { name: 'failover_step_delay_ms', type: int(0, 600_000), default: '0', origin: 'new',
    help: 'chaos testing only: pause before each failover step, ms (0 in production)' },
  { name: 'storage_repl_user', type: str(true), default: 'repl', origin: 'new',
    help: 'replication account on storage nodes (CHANGE MASTER when re-pointing replicas)' },
  { name: 'storage_repl_pwd', type: str(), default: 'repl_pwd', origin: 'new', secret: true,
    help: 'password of storage_repl_user' },
  { name: 'storage_connect_map', type: { kind: 'string',
      pattern: /^$|^[A-Za-z0-9.-]+:\d{1,5}=[A-Za-z0-9.-]+:\d{1,5}(,[A-Za-z0-9.-]+:\d{1,5}=[A-Za-z0-9.-]+:\d{1,5})*$/,
      patternHelp: 'a comma-separated list of node_host:port=connect_host:port' },
    default: '', origin: 'new',
    help: 'where the manager connects to reach a storage node when it differs from the node\'s address (NAT, a proxy)' },
  // --- transport security and secrets at rest (docs/security.md) -----------------------------------
  { name: 'agent_token_file', type: str(), default: '', origin: 'new',
    help: 'file (0600) holding the bearer token sent to node agents (their api_token_file); the ' +
      'environment variable CLUSTER_MGR_AGENT_TOKEN may hold it instead' },
  { name: 'agent_token', type: str(), default: '', origin: 'new', secret: true,
    help: 'the agents\' bearer token itself: from the environment (CLUSTER_MGR_AGENT_TOKEN) only, never --set' },
  { name: 'agent_tls_ca_file', type: str(), default: '', origin: 'new',
    help: 'PEM CA certificate(s): call the node agents over HTTPS (agents with tls_cert_file), verified against it' },
  { name: 'raft_max_message_mb', type: int(1, 1024), default: '64', origin: 'new',
    help: 'largest Raft message (MiB) a member sends to or accepts from an authenticated member; a snapshot ' +
      'travels whole in one message, so this must exceed the snapshot file in the data directory; ' +
      'strangers may send only 64 KiB before they prove raft_secret_file' },
  { name: 'raft_secret_file', type: str(), default: '', origin: 'new',
    help: 'file (0600) holding the secret every member of the group shares: members prove it to each other ' +
      '(HMAC challenge) before any Raft message flows; required unless every member listens on loopback' },
  { name: 'nats_user', type: str(), default: '', origin: 'new',
    help: 'NATS user the member connects as (its password in nats_password_file)' },
  { name: 'nats_password_file', type: str(), default: '', origin: 'new',
    help: 'file (0600) holding the password of nats_user' },
  { name: 'nats_creds_file', type: str(), default: '', origin: 'new',
    help: 'NATS credentials file (.creds: user JWT and nkey seed) or an nkey seed file, instead of nats_user' },
  { name: 'secrets_key_file', type: str(), default: '', origin: 'new',
    help: 'file (0600) holding the 32-byte key (64 hex digits) that seals passwords kept in the Raft log ' +
      '(AES-256-GCM); every member needs the same key; without it they are kept in clear (warned at start)' },
];

export const KEY_BY_NAME: ReadonlyMap<string, KeyDef> = new Map(KEYS.map((k) => [k.name, k]));

/** What a key's type allows, in words for error messages. */
export function describeAllowed(t: KeyType): string {
  switch (t.kind) {
    case 'int':
      return `an integer from ${t.min} to ${t.max}`;
    case 'enum':
      return `one of ${t.values.join(', ')}`;
    case 'bool':
      return 'true or false';
    case 'string':
      if (t.patternHelp) return t.patternHelp;
      return t.nonEmpty ? 'a non-empty string' : 'a string';
  }
}
