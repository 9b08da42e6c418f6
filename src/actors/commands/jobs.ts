// Starting a job: the request (Emit `paras`) is validated in full against the world before the job
// exists, so a bad request is refused with the field and reason and never reaches the log. Then the
// job's progress events: steps, and its single ending.
import type { Json } from '../../events/schema.js';
import type { World } from '../world.js';
import { Emitter, refuse, type CommandResult, type Refusal } from './common.js';
import { INT_LIMITS as L, STR_LIMITS, UNSUPPORTED_HA_MODES, USER_RE } from './para-limits.js';
import { ParaError, ParaReader, withoutSecrets, type Paras } from './paras.js';
import { isSettable, valueProblem, VARIABLE_NAME_RE } from './server-variables.js';
import { jobEnvelope } from './job-envelope.js';
import { metaShardFormRefusal } from './meta-shard-form.js';

export type JobCommand =
  | {
      kind: 'job.start';
      jobType: string;
      request: Paras;
      /** The Emit body as received, for job_info (job-envelope.ts); a child's is built from its request. */
      envelope?: unknown;
      /** A child job runs under its parent's lock. */
      parent?: number;
    }
  | { kind: 'job.step_start'; job: number; step: string; index: number; total: number }
  | { kind: 'job.step_finish'; job: number; step: string; ok: boolean; done: number; total: number; info?: string }
  | { kind: 'job.finish'; job: number; result?: Json }
  | { kind: 'job.fail'; job: number; code: number; info: string; result?: Json };

/** What validating a request decides: the stored request, the cluster it concerns, its lock. */
interface Accepted {
  request: Json;
  cluster: number | null;
  lock: string | null;
}

type Validator = (world: World, p: ParaReader, e: Emitter, raw: Paras) => Accepted;

const HA_MODES = ['mgr', 'rbr', 'no_rep'] as const;
const MACHINE_TYPES = ['storage', 'computer'] as const;

function fail(r: Refusal): never {
  throw new ParaError(r);
}

function clusterById(world: World, p: ParaReader, key: string, errno: number, missing = errno): number {
  const id = p.int(key, { min: 1, errno: missing });
  if (world.cluster(id) === null) fail(refuse('not_found', `cluster ${id} does not exist`, `paras.${key}`, errno));
  return id;
}

function shardIn(world: World, p: ParaReader, cluster: number, key: string, errno: number): number {
  const id = p.int(key, { min: 1, errno });
  const s = world.shard(id);
  if (s === null || s.cluster !== cluster) fail(refuse('not_found', `shard ${id} is not in cluster ${cluster}`, `paras.${key}`, errno));
  return id;
}

function registeredHosts(world: World, hosts: string[], role: 'storage' | 'computer', key: string, errno: number): void {
  for (const [i, h] of hosts.entries()) {
    if (world.machine(h)?.roles[role] === undefined) {
      fail(refuse('not_found', `${h} is not registered as a ${role} machine`, `paras.${key}[${i}]`, errno));
    }
  }
}

function nodeAt(world: World, shard: number, host: string, port: number, field: string, errno: number): number {
  const at = world.nodeAt(host, port);
  const id = at?.startsWith('node/') === true ? Number(at.slice(5)) : null;
  if (id === null || world.shardOf(id) !== shard) fail(refuse('not_found', `${host}:${port} is not a node of shard ${shard}`, field, errno));
  return id;
}

const clusterLock = (id: number): string => `cluster/${id}`;

/** One raft_mission at a time in the manager group. */
export const MANAGER_GROUP_LOCK = 'manager/group';
const HOST_PORT = /^([A-Za-z0-9.-]+):(\d{1,5})$/;

/** "host:port" of a raft_mission para: the host and a port in range. */
function peerAddress(p: ParaReader, key: string, errno: number): { host: string; port: number } {
  const v = p.str(key, { errno, max: 300 });
  const m = HOST_PORT.exec(v);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !(port >= L.port.min && port <= L.port.max)) fail(refuse('invalid_argument', 'must be "host:raft_port"', `paras.${key}`, errno));
  return { host: m[1]!, port };
}

const VALIDATORS: Record<string, Validator> = {
  create_cluster(world, p, e) {
    const haMode = p.oneOf('ha_mode', HA_MODES, { errno: 70071 });
    const unsupported = Object.hasOwn(UNSUPPORTED_HA_MODES, haMode) ? UNSUPPORTED_HA_MODES[haMode] : undefined;
    if (unsupported !== undefined) fail(refuse('invalid_argument', `${haMode} is not supported: ${unsupported}`, 'paras.ha_mode', 70071));
    const shards = p.int('shards', { ...L.count, errno: 70072, rangeErrno: 70073 });
    const nodes = p.int('nodes', { ...L.count, errno: 70074, rangeErrno: 70075 });
    const comps = p.int('comps', { ...L.count, errno: 70076, rangeErrno: 70077 });
    const maxStorageSize = p.int('max_storage_size', { ...L.maxStorageSize, errno: 70078 });
    const maxConnections = p.int('max_connections', { ...L.maxConnections, errno: 70079 });
    const cpuCores = p.int('cpu_cores', { ...L.cpuCores, errno: 70080 });
    const innodbSize = p.int('innodb_size', { ...L.innodbSize, errno: 70081, rangeErrno: 70082 });
    const dbcfg = p.lenientInt('dbcfg', 0);
    const nickName = p.optStr('nick_name', '', { max: STR_LIMITS.nickName });
    const user = p.optStr('computer_user', 'abc', { max: STR_LIMITS.computerUser, pattern: USER_RE, patternHelp: 'letters, digits and "_"' });
    // comp_nodes.passwd holds no more: a longer one would be a row the projection cannot write.
    const password = p.optStr('computer_password', 'abc', { max: STR_LIMITS.computerPassword });
    const storageHosts = p.hostList('storage_iplists', 70181);
    const computerHosts = p.hostList('computer_iplists', 70182);
    registeredHosts(world, storageHosts, 'storage', 'storage_iplists', 70181);
    registeredHosts(world, computerHosts, 'computer', 'computer_iplists', 70182);
    // The cluster row exists from acceptance on (as in the original), so the password is in the log
    // once, marked secret, and a new leader can finish the job after a failover.
    const id = e.ids.take('cluster');
    const name = `cluster_${Math.floor(e.ctx.at / 1000)}_${String(id).padStart(6, '0')}`;
    if (world.clusterByName(name) !== null) fail(refuse('already_exists', `a cluster named ${name} exists`, 'paras'));
    e.emit('cluster.created', `cluster/${id}`, {
      name,
      nickName,
      haMode,
      owner: 'abc',
      business: 'kunlun',
      maxStorageSizeGB: maxStorageSize,
      maxConnections,
      cpuCores,
      innodbSizeMB: innodbSize,
      dbcfg,
      compUser: user,
      compPassword: password,
    });
    return {
      request: {
        cluster_id: id,
        cluster_name: name,
        ha_mode: haMode,
        shards,
        nodes,
        comps,
        max_storage_size: maxStorageSize,
        max_connections: maxConnections,
        cpu_cores: cpuCores,
        innodb_size: innodbSize,
        dbcfg,
        nick_name: nickName,
        computer_user: user,
        storage_iplists: storageHosts,
        computer_iplists: computerHosts,
      },
      cluster: id,
      lock: clusterLock(id),
    };
  },

  delete_cluster(world, p) {
    let id: number;
    if (p.has('cluster_id')) id = clusterById(world, p, 'cluster_id', 70098, 70096);
    else if (p.has('cluster_name')) {
      const name = p.str('cluster_name', { errno: 70096, max: STR_LIMITS.clusterName });
      const c = world.clusterByName(name);
      if (c === null) fail(refuse('not_found', `cluster ${name} does not exist`, 'paras.cluster_name', 70097));
      id = c.id;
    } else return fail(refuse('invalid_argument', 'cluster_id or cluster_name is required', 'paras.cluster_id', 70096));
    return { request: { cluster_id: id, cluster_name: world.cluster(id)!.name }, cluster: id, lock: clusterLock(id) };
  },

  add_shards(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70119);
    const shards = p.int('shards', { ...L.count, errno: 70120, rangeErrno: 70121 });
    const nodes = p.int('nodes', { ...L.count, errno: 70122, rangeErrno: 70123 });
    const hosts = p.hostList('storage_iplists', 70184);
    registeredHosts(world, hosts, 'storage', 'storage_iplists', 70184);
    return { request: { cluster_id: cluster, shards, nodes, storage_iplists: hosts }, cluster, lock: clusterLock(cluster) };
  },

  delete_shard(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70139);
    const shard = shardIn(world, p, cluster, 'shard_id', 70140);
    if (world.shardsOf(cluster).length <= 1) {
      fail(refuse('last_one', `shard ${shard} is the last shard of cluster ${cluster}`, 'paras.shard_id', 70174));
    }
    return { request: { cluster_id: cluster, shard_id: shard }, cluster, lock: clusterLock(cluster) };
  },

  add_comps(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70109);
    const comps = p.int('comps', { ...L.count, errno: 70108, rangeErrno: 70110 });
    const hosts = p.hostList('computer_iplists', 70185);
    registeredHosts(world, hosts, 'computer', 'computer_iplists', 70185);
    return { request: { cluster_id: cluster, comps, computer_iplists: hosts }, cluster, lock: clusterLock(cluster) };
  },

  delete_comp(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70132);
    const comp = p.int('comp_id', { min: 1, errno: 70133 });
    if (world.comp(comp)?.cluster !== cluster) {
      fail(refuse('not_found', `compute node ${comp} is not in cluster ${cluster}`, 'paras.comp_id', 70134));
    }
    if (world.compsOf(cluster).length <= 1) {
      fail(refuse('last_one', `compute node ${comp} is the last one of cluster ${cluster}`, 'paras.comp_id', 70157));
    }
    return { request: { cluster_id: cluster, comp_id: comp }, cluster, lock: clusterLock(cluster) };
  },

  add_nodes(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70154);
    const nodes = p.int('nodes', { ...L.count, errno: 70155, rangeErrno: 70156 });
    const shard = p.has('shard_id') ? shardIn(world, p, cluster, 'shard_id', 70161) : null;
    if (shard === null && world.shardsOf(cluster).length === 0) {
      fail(refuse('not_found', `cluster ${cluster} has no shards`, 'paras.cluster_id', 70161));
    }
    const hosts = p.hostList('storage_iplists', 70183);
    registeredHosts(world, hosts, 'storage', 'storage_iplists', 70183);
    return { request: { cluster_id: cluster, shard_id: shard, nodes, storage_iplists: hosts }, cluster, lock: clusterLock(cluster) };
  },

  delete_node(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70168);
    const shard = shardIn(world, p, cluster, 'shard_id', 70169);
    const host = p.host('hostaddr', 70170);
    const port = p.int('port', { ...L.port, errno: 70171 });
    const node = nodeAt(world, shard, host, port, 'paras.hostaddr', 70173);
    if (world.nodesOf(shard).length <= 1) fail(refuse('last_one', `node ${node} is the last node of shard ${shard}`, 'paras.hostaddr', 70159));
    if (world.primaryOf(shard) === node) {
      fail(refuse('invalid_state', `${host}:${port} is the primary of shard ${shard}`, 'paras.hostaddr', 70172));
    }
    return { request: { cluster_id: cluster, shard_id: shard, hostaddr: host, port, node_id: node }, cluster, lock: clusterLock(cluster) };
  },

  rebuild_node(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70025);
    const shard = shardIn(world, p, cluster, 'shard_id', 70024);
    const items = p.array('rb_nodes', 70036);
    const primary = world.primaryOf(shard);
    const rb = items.map((raw, i) => {
      const q = new ParaReader(raw);
      const host = q.host('hostaddr', 70037);
      const port = q.int('port', { ...L.port, errno: 70038 });
      const node = nodeAt(world, shard, host, port, `paras.rb_nodes[${i}].hostaddr`, 70041);
      if (node === primary) fail(refuse('invalid_state', `${host}:${port} is the primary, not a replica`, `paras.rb_nodes[${i}]`, 70041));
      const needBackup = q.flag('need_backup', false);
      const hdfsHost = needBackup ? q.str('hdfs_host', { errno: 70039 }) : q.optStr('hdfs_host', '');
      return { hostaddr: host, port, node_id: node, need_backup: needBackup ? 1 : 0, hdfs_host: hdfsHost, pv_limit: q.optInt('pv_limit', 10, { min: 1 }) };
    });
    return {
      request: {
        cluster_id: cluster,
        shard_id: shard,
        rb_nodes: rb,
        allow_pull_from_master: p.flag('allow_pull_from_master', false) ? 1 : 0,
        allow_replica_delay: p.optInt('allow_replica_delay', 30),
      },
      cluster,
      lock: clusterLock(cluster),
    };
  },

  manual_switch(world, p, e) {
    // The original's manual_switch numbers: 70024-70026 for missing paras, 70030-70034 for the hosts.
    const cluster = clusterById(world, p, 'cluster_id', 70025);
    const shard = shardIn(world, p, cluster, 'shard_id', 70024);
    const s = world.shard(shard)!;
    const master = p.hostPort('master_hostaddr', 70026);
    const from = nodeAt(world, shard, master.host, master.port, 'paras.master_hostaddr', 70030);
    if (s.primary !== from) fail(refuse('invalid_state', `${master.host}_${master.port} is not the primary (source)`, 'paras.master_hostaddr', 70033));
    let to: number | null = null;
    if (p.has('assign_hostaddr')) {
      const a = p.hostPort('assign_hostaddr', 70032);
      to = nodeAt(world, shard, a.host, a.port, 'paras.assign_hostaddr', 70032);
      const n = world.node(to)!;
      if (n.memberState !== 'replica') fail(refuse('invalid_state', `${a.host}_${a.port} is not a replica`, 'paras.assign_hostaddr', 70034));
      if (n.health !== 'alive') fail(refuse('invalid_state', `${a.host}_${a.port} is ${n.health}`, 'paras.assign_hostaddr', 70019));
      if (n.repair !== 'ok') fail(refuse('invalid_state', `${a.host}_${a.port} is ${n.repair}`, 'paras.assign_hostaddr'));
    }
    if (s.task !== null) fail(refuse('busy', `shard ${shard} is in failover task ${s.task.task}`, 'paras.shard_id'));
    if (s.noSwitch !== null && s.noSwitch.until > e.ctx.at) {
      fail(refuse('no_switch', `shard ${shard} is in a no-switch window until ${s.noSwitch.until}`, 'paras.shard_id', 70014));
    }
    return { request: { cluster_id: cluster, shard_id: shard, from, to }, cluster, lock: clusterLock(cluster) };
  },

  control_instance(world, p) {
    const host = p.host('hostaddr');
    const port = p.int('port', L.port);
    const control = p.oneOf('control', ['stop', 'start', 'restart'] as const);
    const at = world.nodeAt(host, port);
    if (at === null) fail(refuse('not_found', `instance ${host}_${port} not found`, 'paras.hostaddr'));
    const [kind, idText] = at.split('/') as ['node' | 'comp', string];
    const id = Number(idText);
    const cluster = kind === 'node' ? world.node(id)!.cluster : world.comp(id)!.cluster;
    return {
      request: { hostaddr: host, port, control, machine_type: kind === 'node' ? 'storage' : 'computer', instance: at },
      cluster,
      lock: clusterLock(cluster),
    };
  },

  set_variable(world, p) {
    const host = p.host('hostaddr');
    const port = p.int('port', L.port);
    const at = world.nodeAt(host, port);
    if (at === null || (!at.startsWith('node/') && !at.startsWith('comp/'))) {
      fail(refuse('not_found', `no storage or compute node listens on ${host}:${port}`, 'paras.hostaddr'));
    }
    const kind = at.startsWith('node/') ? 'storage' : 'compute';
    const variable = p.str('variable', { max: 64, pattern: VARIABLE_NAME_RE, patternHelp: 'a variable name' });
    if (!isSettable(kind, variable)) {
      fail(refuse('invalid_argument', `${variable} may not be set on a ${kind} node through the API (see docs/api.md for the list)`, 'paras.variable'));
    }
    const type = p.oneOf('type', ['int', 'string'] as const);
    const value = p.str('value', { max: 1024 });
    const problem = valueProblem(kind, type, value);
    if (problem !== null) fail(refuse('invalid_argument', problem, 'paras.value'));
    const id = Number(at.split('/')[1]);
    const cluster = kind === 'storage' ? world.node(id)!.cluster : world.comp(id)!.cluster;
    // The instance is its lock: a variable may be tuned while a long job of the cluster runs, one change
    // of an instance at a time.
    return { request: { hostaddr: host, port, variable, type, value, instance: at }, cluster, lock: at };
  },

  expand_cluster(world, p, _e, raw) {
    const cluster = clusterById(world, p, 'cluster_id', 70098);
    const src = shardIn(world, p, cluster, 'src_shard_id', 70140);
    const dst = shardIn(world, p, cluster, 'dst_shard_id', 70140);
    if (src === dst) fail(refuse('invalid_argument', 'src_shard_id and dst_shard_id are the same', 'paras.dst_shard_id'));
    const tables: string[] = [];
    const list = Object.hasOwn(raw, 'table_list') ? raw.table_list : undefined;
    if (list !== undefined) {
      if (!Array.isArray(list)) fail(refuse('invalid_argument', 'must be an array', 'paras.table_list'));
      for (const [i, t] of list.entries()) {
        if (typeof t !== 'string' || !/^[A-Za-z0-9_$]+\.[A-Za-z0-9_$]+\.[A-Za-z0-9_$]+$/.test(t)) {
          fail(refuse('invalid_argument', 'each table must be db.schema.table', `paras.table_list[${i}]`));
        }
        tables.push(t);
      }
    }
    return {
      request: { cluster_id: cluster, src_shard_id: src, dst_shard_id: dst, table_list: tables, drop_old_table: p.flag('drop_old_table', false) ? 1 : 0 },
      cluster,
      lock: clusterLock(cluster),
    };
  },

  manual_backup_cluster(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70098);
    return { request: { cluster_id: cluster }, cluster, lock: null };
  },

  update_cluster_coldback_time_period(world, p) {
    const cluster = clusterById(world, p, 'cluster_id', 70098);
    const period = p.str('time_period', { pattern: /^\d\d:\d\d:\d\d-\d\d:\d\d:\d\d$/ });
    return { request: { cluster_id: cluster, time_period: period }, cluster, lock: null };
  },

  raft_mission(world, p): Accepted {
    const task = p.oneOf('task_type', ['transfer_leader', 'add_peer', 'remove_peer'] as const, { errno: 70190, rangeErrno: 70191 });
    const members = world.ids('manager').map((id) => world.manager(id)!);
    const lock = MANAGER_GROUP_LOCK;
    if (task === 'transfer_leader') {
      // The Raft port names a member (as in the original); its HTTP port is accepted too.
      const a = peerAddress(p, 'target_leader', 70192);
      const m = members.find((x) => x.host === a.host && x.raftPort === a.port) ?? members.find((x) => x.host === a.host && x.httpPort === a.port);
      if (m === undefined) fail(refuse('not_found', `${a.host}:${a.port} is not a member of the manager group`, 'paras.target_leader', 70193));
      return { request: { task_type: task, target_leader: m.id }, cluster: null, lock };
    }
    const a = peerAddress(p, 'peer', 70194);
    const id = `${a.host}:${a.port}`;
    const m = members.find((x) => x.host === a.host && x.raftPort === a.port);
    if (task === 'add_peer') {
      if (m !== undefined) fail(refuse('already_exists', `${id} is already a member of the manager group`, 'paras.peer', 70197));
      const httpPort = p.has('http_port') ? p.int('http_port', { ...L.port, errno: 70194 }) : null;
      return { request: { task_type: task, peer: id, http_port: httpPort }, cluster: null, lock };
    }
    if (m === undefined) fail(refuse('not_found', `${id} is not a member of the manager group`, 'paras.peer', 70198));
    if (members.length <= 1) fail(refuse('last_one', `${id} is the last member of the manager group`, 'paras.peer', 70198));
    return { request: { task_type: task, peer: m.id }, cluster: null, lock };
  },

  create_machine(world, p) {
    const host = p.host('hostaddr', 70052);
    const type = p.oneOf('machine_type', MACHINE_TYPES, { errno: 70050, rangeErrno: 70051 });
    const rack = p.str('rack_id', { errno: 70053, max: STR_LIMITS.rackId });
    if (world.machine(host)?.roles[type] !== undefined) {
      fail(refuse('already_exists', `${host} is already registered as ${type}`, 'paras.hostaddr', 70062));
    }
    const dirs: Record<string, string> =
      type === 'storage'
        ? { datadir: p.str('datadir', { errno: 70054, max: STR_LIMITS.path }), logdir: p.str('logdir', { errno: 70055, max: STR_LIMITS.path }), wal_log_dir: p.str('wal_log_dir', { errno: 70056, max: STR_LIMITS.path }) }
        : { comp_datadir: p.str('comp_datadir', { errno: 70061, max: STR_LIMITS.path }) };
    const range = p.optStr('port_range', type === 'storage' ? '57000-58000' : '47000-48000', { pattern: /^\d{1,5}-\d{1,5}$/ });
    const [lo, hi] = range.split('-').map(Number) as [number, number];
    if (lo < L.port.min || hi > L.port.max || lo > hi) fail(refuse('invalid_argument', `must be lo-hi within ${L.port.min}..${L.port.max}`, 'paras.port_range'));
    return {
      request: {
        hostaddr: host,
        machine_type: type,
        rack_id: rack,
        ...dirs,
        port_range: range,
        total_mem: p.int('total_mem', { ...L.totalMem, errno: 70057 }),
        total_cpu_cores: p.int('total_cpu_cores', { ...L.totalCpuCores, errno: 70058 }),
        ...(p.has('nodemgr_port') ? { nodemgr_port: p.int('nodemgr_port', L.port) } : {}),
      },
      cluster: null,
      lock: `machine/${host}`,
    };
  },

  update_machine(world, p, _e, raw) {
    const host = p.host('hostaddr', 70052);
    const type = p.oneOf('machine_type', MACHINE_TYPES, { errno: 70050, rangeErrno: 70051 });
    if (world.machine(host)?.roles[type] === undefined) {
      fail(refuse('not_found', `${host} is not registered as ${type}`, 'paras.hostaddr', 70066));
    }
    return { request: withoutSecrets(raw), cluster: null, lock: `machine/${host}` };
  },

  delete_machine(world, p) {
    const host = p.host('hostaddr', 70067);
    const type = p.oneOf('machine_type', MACHINE_TYPES, { errno: 70050, rangeErrno: 70051 });
    const role = world.machine(host)?.roles[type];
    if (role === undefined) fail(refuse('not_found', `${host} is not registered as ${type}`, 'paras.hostaddr', 70066));
    if (role.usedPorts.length > 0) {
      fail(refuse('invalid_state', `${host} still runs instances on ports ${role.usedPorts.join(',')}`, 'paras.hostaddr', 70064));
    }
    return { request: { hostaddr: host, machine_type: type }, cluster: null, lock: `machine/${host}` };
  },
};

/** Job types a job may start as a child (parent set): their request was validated by the parent. */
export const INTERNAL_JOB_TYPES = new Set([
  'internal_add_shard',
  'internal_add_comps',
  'internal_del_shard',
  'internal_del_comp',
  'internal_rebuild_hosts',
  'rb_shard_node',
  'shard_install',
  'shard_uninstall',
  'compute_install',
  'compute_uninstall',
  'shard_coldbackup',
  'compute_coldbackup',
]);

export const PUBLIC_JOB_TYPES: readonly string[] = Object.keys(VALIDATORS).sort();

/** Own-property lookup: `constructor` or `toString` is no job type. */
function validatorOf(jobType: string): Validator | undefined {
  return Object.hasOwn(VALIDATORS, jobType) ? VALIDATORS[jobType] : undefined;
}

function getJob(world: World, id: number) {
  return world.job(id) ?? refuse('not_found', `job ${id} does not exist`, 'job_id', 70104);
}

export function checkJob(world: World, cmd: JobCommand, e: Emitter): CommandResult {
  switch (cmd.kind) {
    case 'job.start':
      return startJob(world, cmd, e);
    case 'job.step_start': {
      const j = getJob(world, cmd.job);
      if ('ok' in j) return j;
      if (j.status === 'done' || j.status === 'failed') return refuse('invalid_state', `job ${j.id} has ended (${j.status})`, 'job_id');
      if (j.step !== null) return refuse('invalid_state', `job ${j.id} is running step ${j.step.name}`, 'step');
      return e.emit('job.step_started', `job/${j.id}`, { step: cmd.step, index: cmd.index, total: cmd.total }).done();
    }
    case 'job.step_finish': {
      const j = getJob(world, cmd.job);
      if ('ok' in j) return j;
      if (j.step?.name !== cmd.step) return refuse('invalid_state', `job ${j.id} is not running step ${cmd.step}`, 'step');
      return e
        .emit('job.step_finished', `job/${j.id}`, { step: cmd.step, ok: cmd.ok, done: cmd.done, total: cmd.total, info: cmd.info ?? '' })
        .done();
    }
    case 'job.finish':
    case 'job.fail': {
      const j = getJob(world, cmd.job);
      if ('ok' in j) return j;
      if (j.status === 'done' || j.status === 'failed') return refuse('invalid_state', `job ${j.id} has already ended (${j.status})`, 'job_id');
      if (cmd.kind === 'job.finish') {
        if (j.step !== null) return refuse('invalid_state', `job ${j.id} is still running step ${j.step.name}`, 'job_id');
        return e.emit('job.done', `job/${j.id}`, { result: cmd.result ?? {} }).done();
      }
      return e.emit('job.failed', `job/${j.id}`, { code: cmd.code, info: cmd.info, result: cmd.result ?? {} }).done();
    }
  }
}

function startJob(world: World, cmd: Extract<JobCommand, { kind: 'job.start' }>, e: Emitter): CommandResult {
  if (typeof cmd.request !== 'object' || cmd.request === null || Array.isArray(cmd.request)) {
    return refuse('invalid_argument', 'paras must be an object', 'paras', 70070);
  }
  const env = jobEnvelope(cmd, e.ctx.cause, e.ctx.at);
  if (!env.ok) return env;
  let accepted: Accepted;
  if (cmd.parent !== undefined) {
    const parent = world.job(cmd.parent);
    if (parent === null) return refuse('not_found', `job ${cmd.parent} does not exist`, 'parent');
    if (parent.status === 'done' || parent.status === 'failed') return refuse('invalid_state', `job ${parent.id} has ended`, 'parent');
    if (!INTERNAL_JOB_TYPES.has(cmd.jobType) && validatorOf(cmd.jobType) === undefined) {
      return refuse('invalid_argument', `unknown job type ${cmd.jobType}`, 'job_type');
    }
    // A child runs under its parent's lock; the parent validated what it asks for.
    accepted = { request: withoutSecrets(cmd.request), cluster: parent.cluster, lock: null };
  } else {
    const validate = validatorOf(cmd.jobType);
    if (validate === undefined) return refuse('invalid_argument', `Unrecongnized job type ${JSON.stringify(cmd.jobType).slice(0, 80)}`, 'job_type', 70001);
    const meta = metaShardFormRefusal(cmd.jobType, cmd.request);
    if (meta !== null) return meta;
    try {
      accepted = validate(world, new ParaReader(cmd.request), e, cmd.request);
    } catch (err) {
      if (err instanceof ParaError) return err.refusal;
      throw err;
    }
  }
  if (accepted.lock !== null) {
    const holder = world.lockHolder(accepted.lock);
    if (holder !== null) {
      return refuse('busy', `${accepted.lock} is busy with job ${holder} (${world.job(holder)?.jobType ?? '?'})`, 'paras');
    }
  }
  const id = e.ids.take('job');
  return e
    .emit('job.created', `job/${id}`, {
      jobType: cmd.jobType,
      request: accepted.request,
      cluster: accepted.cluster,
      parent: cmd.parent ?? null,
      lock: accepted.lock,
      envelope: env.envelope,
    })
    .done();
}
