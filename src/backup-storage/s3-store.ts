// stype "s3": a bucket (and a key prefix) of Amazon S3 or an S3-compatible server (endpoint set:
// path-style addressing). Objects of unknown length are sent as a multipart upload in parts of
// PART_SIZE; a small one in a single request.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { Digest } from './hashing.js';
import type { S3Keys } from './s3-credentials.js';
import { checkKey, checkPut, StorageError, type BackupStore, type PutOptions, type PutResult, type StoredObject } from './store.js';

/** S3 wants parts of at least 5 MiB (but the last). */
export const PART_SIZE = 8 * 1024 * 1024;

export interface S3Settings {
  endpoint: string | null;
  bucket: string;
  prefix: string;
  region: string;
}

export class S3Store implements BackupStore {
  readonly describe: string;
  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(
    private readonly s: S3Settings,
    keys: S3Keys | undefined,
    private readonly partSize = PART_SIZE,
  ) {
    this.prefix = s.prefix === '' || s.prefix.endsWith('/') ? s.prefix : `${s.prefix}/`;
    this.describe = `s3 ${s.bucket}/${this.prefix}${s.endpoint !== null ? ` at ${s.endpoint}` : ` in ${s.region}`}`;
    this.client = new S3Client({
      region: s.region,
      ...(s.endpoint !== null ? { endpoint: s.endpoint, forcePathStyle: true } : {}),
      // A copy: the SDK marks the object it is given.
      ...(keys !== undefined ? { credentials: { ...keys } } : {}),
      // Checksums only where S3 requires them: S3-compatible servers do not all know the newer ones.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
    });
  }

  private key(key: string): string {
    return `${this.prefix}${checkKey(key)}`;
  }

  private async call<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof StorageError) throw e;
      const err = e as Error & { $metadata?: { httpStatusCode?: number } };
      const status = err.$metadata?.httpStatusCode;
      throw new StorageError(`${this.describe}: ${what}: ${err.name}${status !== undefined ? ` (HTTP ${status})` : ''}: ${err.message}`, { cause: e });
    }
  }

  async put(key: string, body: Readable, opts?: PutOptions): Promise<PutResult> {
    const Key = this.key(key);
    const Bucket = this.s.bucket;
    const digest = new Digest();
    let pending: Buffer[] = [];
    let pendingSize = 0;
    let uploadId: string | undefined;
    const parts: CompletedPart[] = [];
    const flush = async (): Promise<void> => {
      const Body = Buffer.concat(pending, pendingSize);
      pending = [];
      pendingSize = 0;
      uploadId ??= (await this.call(`put ${key}`, () => this.client.send(new CreateMultipartUploadCommand({ Bucket, Key })))).UploadId;
      const PartNumber = parts.length + 1;
      const r = await this.call(`put ${key} part ${PartNumber}`, () => this.client.send(new UploadPartCommand({ Bucket, Key, UploadId: uploadId, PartNumber, Body, ContentLength: Body.length })));
      parts.push({ ETag: r.ETag, PartNumber });
    };
    try {
      for await (const chunk of body) {
        const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
        digest.add(b);
        pending.push(b);
        pendingSize += b.length;
        if (pendingSize >= this.partSize) await flush();
      }
      const got = digest.result();
      checkPut(key, got, opts);
      if (uploadId === undefined) {
        const Body = Buffer.concat(pending, pendingSize);
        await this.call(`put ${key}`, () => this.client.send(new PutObjectCommand({ Bucket, Key, Body, ContentLength: Body.length })));
      } else {
        if (pendingSize > 0) await flush();
        await this.call(`put ${key}`, () => this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: parts } })));
      }
      return got;
    } catch (e) {
      if (uploadId !== undefined) await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: uploadId })).catch(() => undefined);
      throw e;
    }
  }

  async get(key: string): Promise<Readable> {
    const r = await this.call(`get ${key}`, () => this.client.send(new GetObjectCommand({ Bucket: this.s.bucket, Key: this.key(key) })));
    if (!(r.Body instanceof Readable)) throw new StorageError(`${this.describe}: get ${key}: no body in the answer`);
    return r.Body;
  }

  async list(prefix = ''): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const r = await this.call('list', () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.s.bucket, Prefix: `${this.prefix}${prefix}`, ...(token !== undefined ? { ContinuationToken: token } : {}) })),
      );
      for (const o of r.Contents ?? []) if (o.Key !== undefined) out.push({ key: o.Key.slice(this.prefix.length), size: o.Size ?? 0 });
      token = r.IsTruncated === true ? r.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.call(`delete ${key}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.s.bucket, Key: this.key(key) })));
  }

  close(): void {
    this.client.destroy();
  }
}
