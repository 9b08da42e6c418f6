// The node agent of a registered machine, as the manager reaches it: the agent port the machine was
// registered with (node_mgr's default otherwise), with the agents' bearer token (agent_token_file) and
// TLS CA (agent_tls_ca_file) when set.
import type { World } from '../actors/index.js';
import type { Config } from '../config/load.js';
import { memberSecrets } from '../config/member-secrets.js';
import { AgentClient, type AgentClientOptions } from './client.js';

/** node_mgr's default brpc_http_port. */
export const DEFAULT_AGENT_PORT = 5011;

/** The agent port of a registered machine (node_mgr's default when it was registered without one); null: not registered. */
export function agentPortOf(world: World, hostaddr: string): number | null {
  const m = world.machine(hostaddr);
  if (m === null) return null;
  return m.roles.storage?.agentPort ?? m.roles.computer?.agentPort ?? DEFAULT_AGENT_PORT;
}

/** null: the machine is not registered (its instances are not run by an agent we know of). */
export function agentForMachine(world: World, cfg: Config, hostaddr: string, timeouts?: AgentClientOptions['timeouts']): AgentClient | null {
  const port = agentPortOf(world, hostaddr);
  if (port === null) return null;
  return new AgentClient({ host: hostaddr, port, ...memberSecrets(cfg).agent, ...(timeouts ? { timeouts } : {}) });
}
