// Free loopback ports. The OS picks an unused port; we remember what this process handed out so two
// instances started close together never get the same one before either has bound it.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const handedOut = new Set<number>();

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.once('error', reject);
      srv.listen({ host, port: 0, exclusive: true }, () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free TCP port found on ${host} after 50 attempts`);
}

/** `n` distinct free ports on `host` (freePort never hands out the same port twice). */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await freePort(host));
  return ports;
}

/** True when something accepts connections on host:port. */
export async function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * True when `port` can be bound on `host` right now. This is the test that counts before starting a
 * server: a port held by an outgoing connection (any port of the ephemeral range can be) refuses a
 * bind but answers no connect, so a connect test cannot see it.
 */
export async function portBindable(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

export interface PortRange {
  lo: number;
  hi: number;
}

/** The kernel's ephemeral range (outgoing connections draw local ports from it), or null off Linux. */
export function ephemeralPortRange(file = '/proc/sys/net/ipv4/ip_local_port_range'): PortRange | null {
  try {
    const [lo, hi] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo! < 1 || hi! > 65_535 || lo! > hi!) return null;
    return { lo: lo!, hi: hi! };
  } catch {
    return null;
  }
}

/** The part of `r` inside `eph`, or null when they do not overlap. */
export function rangeOverlap(r: PortRange, eph: PortRange): PortRange | null {
  const lo = Math.max(r.lo, eph.lo);
  const hi = Math.min(r.hi, eph.hi);
  return lo <= hi ? { lo, hi } : null;
}
