// stype "HDFS": a namenode reached with the Hadoop `hdfs dfs` command (config hdfs_client), spawned
// with argument arrays. Without a configured client, HDFS storages are refused (open.ts).
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { buffer } from 'node:stream/consumers';
import { Digesting } from './hashing.js';
import { checkKey, checkPut, StorageError, type BackupStore, type PutOptions, type PutResult, type StoredObject } from './store.js';

const ROOT = '/kunlun_backup';

export class HdfsStore implements BackupStore {
  readonly describe: string;
  private readonly base: string;

  constructor(
    private readonly client: string,
    host: string,
    port: number,
  ) {
    this.base = `hdfs://${host}:${port}${ROOT}`;
    this.describe = `HDFS ${host}:${port}${ROOT}`;
  }

  private url(key: string): string {
    return `${this.base}/${checkKey(key)}`;
  }

  /** Runs `hdfs dfs <args>`, feeding `input`; resolves with stdout, rejects naming the command's error. */
  private run(args: string[], input?: Readable): { out: Readable; done: Promise<void> } {
    const p = spawn(this.client, ['dfs', ...args], { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const err: Buffer[] = [];
    p.stderr!.on('data', (b: Buffer) => err.push(b));
    const done = new Promise<void>((resolve, reject) => {
      p.on('error', (e) => reject(new StorageError(`${this.describe}: ${this.client} cannot run: ${e.message}`)));
      p.on('close', (code) =>
        code === 0 ? resolve() : reject(new StorageError(`${this.describe}: hdfs dfs ${args[0]} failed (${code}): ${Buffer.concat(err).toString().trim().slice(-400)}`)),
      );
    });
    if (input) void pipeline(input, p.stdin!).catch(() => undefined);
    return { out: p.stdout!, done };
  }

  async put(key: string, body: Readable, opts?: PutOptions): Promise<PutResult> {
    const url = this.url(key);
    const tmp = `${url}._part`;
    const d = new Digesting();
    await (this.run(['-mkdir', '-p', url.slice(0, url.lastIndexOf('/'))])).done;
    // A failing source fails the upload (pipe() alone would leave hdfs waiting for the end).
    body.once('error', (e) => d.destroy(e));
    const r = this.run(['-put', '-f', '-', tmp], body.pipe(d));
    await r.done;
    const got = d.result();
    try {
      checkPut(key, got, opts);
    } catch (e) {
      await (this.run(['-rm', '-f', tmp])).done;
      throw e;
    }
    await (this.run(['-mv', tmp, url])).done;
    return got;
  }

  get(key: string): Promise<Readable> {
    const r = this.run(['-cat', this.url(key)]);
    r.done.catch((e: Error) => r.out.destroy(e));
    return Promise.resolve(r.out);
  }

  async list(prefix = ''): Promise<StoredObject[]> {
    const r = this.run(['-ls', '-R', this.base]);
    const [text] = await Promise.all([buffer(r.out), r.done.catch(() => undefined)]);
    const out: StoredObject[] = [];
    for (const line of text.toString().split('\n')) {
      // -rw-r--r--   3 user group   4096 2024-01-01 00:00 hdfs://h:p/kunlun_backup/a/b
      const m = /^-\S+\s+\S+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+(.+)$/.exec(line.trim());
      if (!m) continue;
      const path = m[2]!;
      const at = path.indexOf(`${ROOT}/`);
      const key = at < 0 ? '' : path.slice(at + ROOT.length + 1);
      if (key !== '' && !key.endsWith('._part') && key.startsWith(prefix)) out.push({ key, size: Number(m[1]) });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await (this.run(['-rm', '-f', this.url(key)])).done;
  }
}
