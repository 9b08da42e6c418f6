// Shared by the agent tests: raw Emit calls, polling, the agent as a child process, and a teardown
// that leaves no server behind even when a test failed half-way.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import { processesUnder } from '../../src/agent/procfs.js';
import { makeRunDir } from '../../src/launcher/index.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const bin = fileURLToPath(new URL('../../../bin/cluster-mgr.js', import.meta.url));

export interface RawAnswer {
  http: number;
  contentType: string;
  text: string;
  json: Record<string, unknown> | null;
}

/** POSTs a raw body (string or Buffer) to /HttpService/Emit. */
export function emitRaw(port: number, body: string | Buffer | null, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/HttpService/Emit', agent: false, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> | null;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = null;
          }
          resolve({ http: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text, json });
        });
      },
    );
    req.on('error', reject);
    if (body !== null) req.end(body);
    else req.end();
  });
}

export function emit(port: number, jobType: unknown, paras: unknown, id = 'req-1'): Promise<RawAnswer> {
  return emitRaw(port, JSON.stringify({ cluster_mgr_request_id: id, task_spec_info: 'spec', job_type: jobType, paras }));
}

export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await sleep(everyMs);
  }
}

/** kill -9 of every process working under `dir` (instances started detached outlive their agent). */
export async function killEverythingUnder(dir: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const pids = processesUnder(dir);
    if (pids.length === 0) return;
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await sleep(100);
  }
}

export class AgentChild {
  proc: ChildProcess | null = null;
  exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly configFile: string,
    readonly logFile: string,
  ) {}

  start(): void {
    const fd = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, [bin, 'agent', '--config', this.configFile], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.proc = child;
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async kill9(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }
}

export function writeConfig(file: string, lines: Record<string, string | number>): void {
  writeFileSync(file, `${Object.entries(lines).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export const registryOf = (base: string): string => join(base, 'agent-registry.json');

/** A run dir with an instance base dir for an agent test; cleanup() leaves nothing behind: the agents,
 *  then every server under the base dir, then the dir. */
export function agentRun(label: string): { dir: string; base: string; agents: AgentChild[]; cleanup(): Promise<void> } {
  const dir = makeRunDir(label);
  const base = join(dir, 'base');
  const agents: AgentChild[] = [];
  return {
    dir,
    base,
    agents,
    cleanup: async () => {
      for (const a of agents) await a.kill9();
      await killEverythingUnder(base);
      removeDir(dir);
    },
  };
}
