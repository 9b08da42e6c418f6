// The first frames on a connection: the dialer says who it is and which cluster it belongs to; the
// listener answers welcome or reject (with a reason) before any Raft message flows. Checking the
// cluster id and the intended recipient stops a member from talking to a stranger that happens to
// listen on a remembered address.
//
// With a shared secret (raft_secret_file) both sides also prove they hold it, without sending it:
//   dialer   -> hello     {cluster, from, to, nonce Nd}
//   listener -> challenge {nonce Nl, proof HMAC(secret, "listener", cluster, from, to, Nd, Nl)}
//   dialer   -> auth      {proof HMAC(secret, "dialer", cluster, from, to, Nd, Nl)}
//   listener -> welcome | reject
// Fresh nonces on both sides make a recorded exchange useless for a replay; the role in the MAC stops
// one side's proof from being reflected as the other's.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const PROTOCOL_VERSION = 2;
/** Largest frame accepted before the peer is authenticated: handshake frames are a few hundred bytes. */
export const HANDSHAKE_MAX_FRAME_BYTES = 64 * 1024;
const NONCE_BYTES = 32;

export interface Hello {
  t: 'hello';
  v: number;
  cluster: string;
  from: string;
  to: string;
  nonce: Uint8Array;
}

export type HelloReply = { t: 'welcome' } | { t: 'reject'; reason: string } | { t: 'challenge'; nonce: Uint8Array; proof: Uint8Array };

export interface AuthFrame {
  t: 'auth';
  proof: Uint8Array;
}

const bytes = (x: unknown): x is Uint8Array => x instanceof Uint8Array && x.length > 0 && x.length <= 256;

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

export function isHello(x: unknown): x is Hello {
  if (typeof x !== 'object' || x === null) return false;
  const h = x as Record<string, unknown>;
  return h.t === 'hello' && typeof h.v === 'number' && typeof h.cluster === 'string' && typeof h.from === 'string' &&
    typeof h.to === 'string' && bytes(h.nonce);
}

export function isHelloReply(x: unknown): x is HelloReply {
  if (typeof x !== 'object' || x === null) return false;
  const h = x as Record<string, unknown>;
  return h.t === 'welcome' || (h.t === 'reject' && typeof h.reason === 'string') || (h.t === 'challenge' && bytes(h.nonce) && bytes(h.proof));
}

export function isAuth(x: unknown): x is AuthFrame {
  return typeof x === 'object' && x !== null && (x as Record<string, unknown>).t === 'auth' && bytes((x as Record<string, unknown>).proof);
}

/** Why a hello must be refused, or null when it is acceptable. */
export function checkHello(h: Hello, cluster: string, self: string): string | null {
  if (h.v !== PROTOCOL_VERSION) return `protocol version ${h.v} is not ${PROTOCOL_VERSION}`;
  if (h.cluster !== cluster) return `cluster id "${h.cluster}" is not "${cluster}"`;
  if (h.to !== self) return `this member is "${self}", not "${h.to}"`;
  if (h.from === self) return 'a member cannot connect to itself';
  return null;
}

/** The MAC one side sends to prove it holds the secret, bound to this connection's hello and nonces. */
export function handshakeProof(secret: Buffer, role: 'dialer' | 'listener', h: Hello, listenerNonce: Uint8Array): Buffer {
  const mac = createHmac('sha256', secret);
  // Length-prefixed parts: no two different handshakes give the same input.
  for (const part of [role, h.cluster, h.from, h.to, h.nonce, listenerNonce]) {
    const b = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(b.length, 0);
    mac.update(len).update(b);
  }
  return mac.digest();
}

export function proofMatches(expected: Buffer, got: Uint8Array): boolean {
  return got.length === expected.length && timingSafeEqual(expected, got);
}
