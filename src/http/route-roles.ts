// The role each API call needs, in one place: every Emit job type and every HTTP route. A route
// registered without an entry here stops the member at start-up (auth.ts checks it); a job type's role is
// part of its one definition (src/jobs/types), so nothing is served with an unintended access level.
//   read     — views, status, metrics: changes nothing
//   operator — provisioning and maintenance jobs
//   admin    — what destroys data or changes the manager group: deletions, raft_mission, set_variable
import { ROLES, type Role } from '../config/api-tokens.js';
import { JOB_DEFINITIONS } from '../jobs/types/index.js';

export { ROLES, type Role };

/** True when a caller with `have` may do what needs `need`. */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** The role of an Emit job type, from its definition (src/jobs/types); a refused or unknown type only
 *  earns its error answer, so `read` suffices. */
export function roleOfJob(jobType: string): Role {
  const d = JOB_DEFINITIONS.get(jobType);
  return d === undefined || d.kind === 'refused' ? 'read' : d.role;
}

/** open: no credentials (health checks, the status page's HTML, which holds no data);
 *  emit: the role of the job type in the body. Keyed by method and route pattern (HEAD is GET). */
export type RouteAccess = Role | 'open' | 'emit';

export const ROUTE_ROLES: Readonly<Record<string, RouteAccess>> = {
  'GET /healthz': 'open',
  'GET /readyz': 'open',
  'GET /': 'open',
  'GET /status': 'open',
  'POST /HttpService/Emit': 'emit',
  'GET /HttpService/Emit': 'read',
  'OPTIONS /HttpService/Emit': 'read',
  'GET /metrics': 'read',
  'GET /api/v1/leader': 'read',
  'GET /api/v1/view': 'read',
  'GET /api/v1/member': 'read',
  'GET /api/v1/events': 'read',
  'GET /api/v1/openapi.json': 'read',
  'GET /api/v1/live': 'read',
  'GET /api/v1/machines': 'read',
  'GET /api/v1/backup-storages': 'read',
  'GET /api/v1/backups': 'read',
  'GET /api/v1/machines/:host': 'read',
  'GET /api/v1/clusters': 'read',
  'GET /api/v1/clusters/:id': 'read',
  'GET /api/v1/shards': 'read',
  'GET /api/v1/shards/:id': 'read',
  'GET /api/v1/nodes': 'read',
  'GET /api/v1/nodes/:id': 'read',
  'GET /api/v1/comps': 'read',
  'GET /api/v1/comps/:id': 'read',
  'GET /api/v1/managers': 'read',
  'GET /api/v1/jobs': 'read',
  'GET /api/v1/jobs/:id': 'read',
};

/** What a request to `method` `url` (a route pattern) needs; null: the route has no entry. */
export function routeAccess(method: string, url: string): RouteAccess | null {
  const m = method === 'HEAD' ? 'GET' : method;
  const key = `${m} ${url}`;
  return Object.hasOwn(ROUTE_ROLES, key) ? ROUTE_ROLES[key]! : null;
}
