// The check a create/update_backup_storage job runs before the storage is recorded: a probe object is
// written, listed, read back and deleted, so a wrong path, bucket, endpoint or credentials is refused
// then, with the storage's own reason, not at the first backup.
import { randomBytes, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { StorageError, type BackupStore } from './store.js';

export async function checkStore(store: BackupStore, probeName = `cluster_mgr_probe_${randomBytes(6).toString('hex')}`): Promise<void> {
  const key = `.probe/${probeName}`;
  const body = randomBytes(4096);
  const sha256 = createHash('sha256').update(body).digest('hex');
  const step = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      throw new StorageError(`${store.describe}: ${what} of a probe object failed: ${(e as Error).message}`, { cause: e });
    }
  };
  await step('writing', () => store.put(key, Readable.from([body]), { size: body.length, sha256 }));
  try {
    const listed = await step('listing', () => store.list('.probe/'));
    if (!listed.some((o) => o.key === key && o.size === body.length)) throw new StorageError(`${store.describe}: a probe object written is not listed`);
    const back = await step('reading', async () => buffer(await store.get(key)));
    if (!back.equals(body)) throw new StorageError(`${store.describe}: a probe object read back differs from what was written`);
  } finally {
    await step('deleting', () => store.delete(key));
  }
}
