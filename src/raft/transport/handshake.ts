// The first frames on a connection: the dialer says who it is and which cluster it belongs to; the
// listener answers welcome or reject (with a reason) before any Raft message flows. Checking the
// cluster id and the intended recipient stops a member from talking to a stranger that happens to
// listen on a remembered address.

export const PROTOCOL_VERSION = 1;

export interface Hello {
  t: 'hello';
  v: number;
  cluster: string;
  from: string;
  to: string;
}

export type HelloReply = { t: 'welcome' } | { t: 'reject'; reason: string };

export function isHello(x: unknown): x is Hello {
  if (typeof x !== 'object' || x === null) return false;
  const h = x as Record<string, unknown>;
  return h.t === 'hello' && typeof h.v === 'number' && typeof h.cluster === 'string' && typeof h.from === 'string' && typeof h.to === 'string';
}

export function isHelloReply(x: unknown): x is HelloReply {
  if (typeof x !== 'object' || x === null) return false;
  const h = x as Record<string, unknown>;
  return h.t === 'welcome' || (h.t === 'reject' && typeof h.reason === 'string');
}

/** Why a hello must be refused, or null when it is acceptable. */
export function checkHello(h: Hello, cluster: string, self: string): string | null {
  if (h.v !== PROTOCOL_VERSION) return `protocol version ${h.v} is not ${PROTOCOL_VERSION}`;
  if (h.cluster !== cluster) return `cluster id "${h.cluster}" is not "${cluster}"`;
  if (h.to !== self) return `this member is "${self}", not "${h.to}"`;
  if (h.from === self) return 'a member cannot connect to itself';
  return null;
}
