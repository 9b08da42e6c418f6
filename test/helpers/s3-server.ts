// An S3-compatible server on a free loopback port for tests (the npm package s3rver, in this process),
// with its files in `dir` and the buckets named. Its one account is S3RVER / S3RVER; other keys are
// refused (InvalidAccessKeyId), as a real S3 refuses them.
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { freePort } from '../../src/launcher/index.js';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (opts: Record<string, unknown>) => S3rverInstance;

export const S3_KEYS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface TestS3 {
  endpoint: string;
  close(): Promise<void>;
}

export async function startS3(dir: string, buckets: string[]): Promise<TestS3> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverCtor;
  const port = await freePort();
  const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory: dir, configureBuckets: buckets.map((name) => ({ name })) });
  await server.run();
  return { endpoint: `http://127.0.0.1:${port}`, close: () => server.close() };
}
