// stype "fs": a directory, local or a mount (NFS …) that every manager member and agent sees at the
// same path. The directory itself must exist: a missing mount point is an error, never silently
// replaced by a local directory. Objects are written under a temporary name, synced, then renamed.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { Digesting } from './hashing.js';
import { checkKey, checkPut, StorageError, type BackupStore, type PutOptions, type PutResult, type StoredObject } from './store.js';

const PART = '.part-';

export class FsStore implements BackupStore {
  readonly describe: string;

  constructor(private readonly root: string) {
    this.describe = `fs ${root}`;
  }

  private async rootDir(): Promise<string> {
    const s = await stat(this.root).catch((e: NodeJS.ErrnoException) => {
      throw new StorageError(`${this.describe}: the directory cannot be used (${e.code ?? e.message})`);
    });
    if (!s.isDirectory()) throw new StorageError(`${this.describe}: not a directory`);
    return this.root;
  }

  async put(key: string, body: Readable, opts?: PutOptions): Promise<PutResult> {
    const file = join(await this.rootDir(), checkKey(key));
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}${PART}${randomBytes(4).toString('hex')}`;
    const d = new Digesting();
    try {
      await pipeline(body, d, createWriteStream(tmp, { flags: 'wx', mode: 0o640 }));
      const got = d.result();
      checkPut(key, got, opts);
      const fh = await open(tmp, 'r');
      await fh.sync().finally(() => fh.close());
      await rename(tmp, file);
      return got;
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async get(key: string): Promise<Readable> {
    const file = join(await this.rootDir(), checkKey(key));
    // Open first, so a missing object is an error here rather than on the stream.
    const fh = await open(file, 'r').catch((e: NodeJS.ErrnoException) => {
      throw new StorageError(`${this.describe}: ${key}: ${e.code === 'ENOENT' ? 'no such object' : (e.code ?? e.message)}`);
    });
    return createReadStream('', { fd: fh });
  }

  async list(prefix = ''): Promise<StoredObject[]> {
    const root = await this.rootDir();
    const out: StoredObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return [];
        throw e;
      });
      for (const e of entries) {
        const p = join(dir, e.name);
        const key = relative(root, p).split(sep).join('/');
        if (e.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(p);
        } else if (e.isFile() && !e.name.includes(PART) && key.startsWith(prefix)) {
          out.push({ key, size: (await stat(p)).size });
        }
      }
    };
    await walk(root);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await rm(join(await this.rootDir(), checkKey(key)), { force: true });
  }
}
