// Promise wrappers over the callback fs API (cheaper per call than fs/promises FileHandle on the hot
// path) plus the directory fsync that makes a create, rename or unlink durable.

import fs from 'node:fs';

export function writev(fd: number, bufs: Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.writev(fd, bufs, position, (err, written) => (err ? reject(err) : resolve(written)));
  });
}

export async function writevAll(fd: number, bufs: Buffer[], position: number): Promise<void> {
  let total = 0;
  for (const b of bufs) total += b.length;
  let done = await writev(fd, bufs, position);
  // A short write is legal; finish the rest from where it stopped.
  while (done < total) {
    const rest = Buffer.concat(bufs).subarray(done);
    done += await writev(fd, [rest], position + done);
  }
}

export function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

export function close(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve())));
}

export function open(path: string, flags: string): Promise<number> {
  return new Promise((resolve, reject) => fs.open(path, flags, 0o600, (err, fd) => (err ? reject(err) : resolve(fd))));
}

/** Makes entries created, renamed or removed in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = await open(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    await close(fd);
  }
}

export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
