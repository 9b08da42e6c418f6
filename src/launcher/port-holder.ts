// Who holds a TCP port: read from /proc, so that an error about a taken port can name the program
// instead of leaving the user to run `ss -tlnp`. The sockets come from /proc/net/tcp{,6} (this
// process's network namespace), their owners from the `socket:[inode]` links under /proc/*/fd.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface PortSocket {
  /** host:port as the kernel shows it (IPv4 dotted, IPv6 in brackets). */
  local: string;
  remote: string;
  state: string;
  inode: number;
}

/** The TCP states of include/net/tcp_states.h, by the hex code /proc/net/tcp shows. */
const STATES: Record<string, string> = {
  '01': 'established',
  '02': 'syn-sent',
  '03': 'syn-recv',
  '04': 'fin-wait1',
  '05': 'fin-wait2',
  '06': 'time-wait',
  '07': 'bound',
  '08': 'close-wait',
  '09': 'last-ack',
  '0A': 'listening',
  '0B': 'closing',
};

/** "0100007F:1F90" (IPv4, little-endian words) or 32 hex digits (IPv6) → address and port. */
function decode(hexAddr: string): { addr: string; port: number } {
  const [h, p] = hexAddr.split(':') as [string, string];
  const port = parseInt(p, 16);
  if (h.length === 8) {
    const b = h.match(/../g)!.map((x) => parseInt(x, 16)).reverse();
    return { addr: b.join('.'), port };
  }
  // Four 32-bit words, each little-endian.
  const bytes = h.match(/.{8}/g)!.flatMap((w) => w.match(/../g)!.reverse());
  const groups = bytes.join('').match(/.{4}/g)!.map((g) => g.replace(/^0+(?=.)/, '').toLowerCase());
  const v4 = groups.slice(0, 6).join(':') === '0:0:0:0:0:ffff';
  if (v4) return { addr: `::ffff:${bytes.slice(12).map((x) => parseInt(x, 16)).join('.')}`, port };
  return { addr: `[${groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')}]`, port };
}

/** Every TCP socket whose local port is `port`, from the given /proc tables. */
export function socketsOnPort(port: number, tables = ['/proc/net/tcp', '/proc/net/tcp6']): PortSocket[] {
  const out: PortSocket[] = [];
  for (const f of tables) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10) continue;
      const local = decode(c[1]!);
      if (local.port !== port) continue;
      const remote = decode(c[2]!);
      out.push({ local: `${local.addr}:${local.port}`, remote: `${remote.addr}:${remote.port}`, state: STATES[c[3]!] ?? `state ${c[3]}`, inode: Number(c[9]) });
    }
  }
  return out;
}

/** pid and program of the process holding socket `inode`, or null when none is visible to us. */
export function socketOwner(inode: number): { pid: number; program: string } | null {
  if (inode <= 0) return null;
  const want = `socket:[${inode}]`;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return null;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target !== want) continue;
      let program = '?';
      try {
        program = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        // gone meanwhile
      }
      return { pid: Number(pid), program };
    }
  }
  return null;
}

/**
 * What holds TCP `port`, in a few words for a one-line error: "pid 812 (nginx), listening on
 * 0.0.0.0:18000", "pid 90 (curl), an outgoing connection to 93.184.216.34:443", "a connection in
 * time-wait (no process)". Null when /proc shows no socket on it.
 */
export function portHolder(port: number, tables?: string[]): string | null {
  const socks = socketsOnPort(port, tables);
  if (socks.length === 0) return null;
  // The listener (or a bound socket) is the one that matters most; then any owned socket.
  const rank = (s: PortSocket) => (s.state === 'listening' ? 0 : s.state === 'bound' ? 1 : s.inode > 0 ? 2 : 3);
  const s = [...socks].sort((a, b) => rank(a) - rank(b))[0]!;
  const owner = socketOwner(s.inode);
  const who = owner ? `pid ${owner.pid} (${owner.program})` : s.inode > 0 ? `a process we cannot see (socket inode ${s.inode})` : null;
  const what =
    s.state === 'listening' ? `listening on ${s.local}` : s.state === 'bound' ? `bound to ${s.local}` : `a connection ${s.local} → ${s.remote} (${s.state})`;
  return who ? `${who}, ${what}` : `${what}, owned by no process`;
}
