// The synchronous types: answered at once by src/http (emit-backend.ts, sync-answers.ts) from the
// world or the metadata shard; no job is created. set_noswitch / del_noswitch change a shard through
// a command, not a job.
import type { QueryDefinition } from '../definition.js';
import { id, port, variableName } from './paras.js';

const query = (d: Omit<QueryDefinition, 'kind' | 'sync' | 'internal'>): QueryDefinition => ({ kind: 'query', sync: true, internal: false, ...d });
const idOrAll = (missing?: number) => ({ kind: 'idOrAll', required: missing !== undefined, ...(missing !== undefined ? { missing } : {}) }) as const;

export const QUERIES: readonly QueryDefinition[] = [
  query({
    name: 'get_status',
    role: 'read',
    summary: 'status and progress of a job',
    missingParas: 70001,
    paras: {},
    attachment: { description: 'the job\'s attachment: the common keys and those of its type (see each job type)', keys: {} },
  }),
  query({
    name: 'get_meta_mode',
    role: 'read',
    summary: 'replication mode of the metadata shard',
    missingParas: 70001,
    paras: {},
    attachment: { description: 'global_configuration.meta_ha_mode', keys: { mode: { type: 'string', enum: ['rbr', 'mgr', 'no_rep'] } } },
  }),
  query({
    name: 'get_meta_summary',
    role: 'read',
    summary: 'metadata shard nodes',
    missingParas: 70001,
    paras: {},
    attachment: {
      description: 'the metadata nodes',
      keys: { list_meta: { type: 'array', items: { type: 'object', properties: { hostaddr: { type: 'string' }, port: { type: 'string' }, status: { type: 'string' }, master: { type: 'string' } } } } },
    },
  }),
  query({
    name: 'get_cluster_summary',
    role: 'read',
    summary: 'every cluster, its shards and compute nodes',
    missingParas: 70001,
    paras: {},
    attachment: { description: 'one entry per cluster', keys: { list_cluster: { type: 'array', items: { type: 'object', properties: { cluster_id: { type: 'string' }, cluster_name: { type: 'string' } } } } } },
  }),
  query({
    name: 'get_cluster_detail',
    role: 'read',
    summary: 'work mode, or one cluster in detail',
    missingParas: 70001,
    paras: { cluster_id: id(70005, 'cluster id', false) },
    attachment: { description: 'work_mode (XPanel\'s edition probe); with cluster_id the cluster, its shards and compute nodes', keys: { work_mode: { type: 'string' }, list_shard: { type: 'array' }, list_comp: { type: 'array' } } },
  }),
  query({
    name: 'get_variable',
    role: 'read',
    summary: 'read a server variable of an instance',
    missingParas: 70005,
    paras: { hostaddr: { kind: 'host', required: true }, port: { ...port, required: true }, variable: variableName },
    attachment: { description: 'the value', keys: { result: { type: 'string', enum: ['true', 'false'] }, value: { type: 'string' } } },
  }),
  query({
    name: 'set_noswitch',
    role: 'operator',
    summary: 'suppress automatic failover of a cluster or shard for a while',
    missingParas: 70005,
    paras: { type: { kind: 'enum', values: ['1'], def: '1' }, timeout: { kind: 'int', min: 1, max: 31_536_000, required: true, help: 'seconds' }, cluster_id: idOrAll(70025), shard_id: id(70024, 'shard id', false) },
    attachment: { description: 'none: error_code 0 is success', keys: {} },
  }),
  query({
    name: 'list_noswitch',
    role: 'read',
    summary: 'active no-switch windows',
    missingParas: 70005,
    paras: { cluster_id: idOrAll() },
    attachment: { description: 'the windows', keys: { value: { type: 'array', items: { type: 'object', properties: { cluster_id: { type: 'string' }, shard_id: { type: 'string' }, param: { type: 'object' } } } } } },
  }),
  query({
    name: 'del_noswitch',
    role: 'operator',
    summary: 'end a no-switch window',
    missingParas: 70005,
    paras: { cluster_id: idOrAll(70025), shard_id: id(70024, 'shard id', false) },
    attachment: { description: 'none: error_code 0 is success', keys: {} },
  }),
];
