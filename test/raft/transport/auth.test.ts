// Members prove the group's shared secret to each other (HMAC challenge, both ways) before any Raft
// message flows; strangers are refused and logged (a few lines a minute per address), and a peer that
// has not authenticated may send only a small frame.
import net from 'node:net';
import { Packr } from 'msgpackr';
import t from 'tap';
import { frameHeader, PROTOCOL_VERSION, TcpTransport } from '../../../src/raft/transport/index.js';
import type { RaftLogger } from '../../../src/raft/storage/index.js';
import { makeCluster, put, until } from '../node/cluster.js';

interface Msg {
  type: string;
  n: number;
}
type Line = { level: string; obj: Record<string, unknown>; msg: string };

const packr = new Packr({ useRecords: false });
const SECRET = Buffer.from('the-group-secret-0123456789abcdef');
const WRONG = Buffer.from('not-the-group-secret-0123456789ab');

function capture(): { logger: RaftLogger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => lines.push({ level, obj, msg });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

function transport(t: { teardown: (fn: () => unknown) => void }, id: string, secret: Buffer | null, inbox: Msg[], logger?: RaftLogger) {
  const tr = new TcpTransport<Msg>({
    id, clusterId: 'g', listen: { host: '127.0.0.1', port: 0 }, secret, onMessage: (_f, m) => inbox.push(m),
    backoffMinMs: 20, backoffMaxMs: 100, ...(logger ? { logger } : {}),
  });
  t.teardown(() => tr.stop());
  return tr;
}

void t.test('the same secret connects; a wrong or missing one is refused on both sides and logged', async (t) => {
  const inB: Msg[] = [];
  const logB = capture();
  const b = transport(t, 'b', SECRET, inB, logB.logger);
  const pb = await b.start();

  const good = transport(t, 'a', SECRET, []);
  await good.start();
  good.addPeer('b', { host: '127.0.0.1', port: pb });
  good.send('b', { type: 'app', n: 1 });
  await until('the message with the right secret', () => inB.length === 1);

  for (const [name, secret] of [['wrong', WRONG], ['none', null]] as const) {
    const log = capture();
    const bad = transport(t, `x-${name}`, secret, [], log.logger);
    await bad.start();
    bad.addPeer('b', { host: '127.0.0.1', port: pb });
    bad.send('b', { type: 'app', n: 99 });
    await until(`the ${name} secret refused by the dialer`, () => log.lines.some((l) => l.msg === 'raft transport: peer refused'));
    t.equal(bad.metrics().peers.b?.connected, false, `${name}: never connected`);
    const why = String(log.lines.find((l) => l.msg === 'raft transport: peer refused')?.obj.reason);
    t.match(why, secret ? /did not prove the group's secret/ : /requires raft_secret_file/, `${name}: the dialer says why`);
    await bad.stop();
  }
  t.same(inB.map((m) => m.n), [1], 'nothing from the strangers was delivered');
  t.ok(b.metrics().rejectedConnections >= 1, 'the listener counted the refusal');
  t.ok(logB.lines.some((l) => /did not prove the group's secret/.test(String(l.obj.reason))), 'the listener logged the refusal');
  t.notMatch(JSON.stringify(logB.lines), /the-group-secret|not-the-group-secret/, 'no secret in any log line');
});

void t.test('a listener that cannot prove the secret gets nothing from us', async (t) => {
  const inImpostor: Msg[] = [];
  const impostor = transport(t, 'b', WRONG, inImpostor);
  const pb = await impostor.start();
  const log = capture();
  const a = transport(t, 'a', SECRET, [], log.logger);
  await a.start();
  a.addPeer('b', { host: '127.0.0.1', port: pb });
  a.send('b', { type: 'app', n: 1 });
  await until('the dialer refuses the impostor', () => log.lines.some((l) => /did not prove/.test(String(l.obj.reason))));
  t.equal(inImpostor.length, 0);
});

void t.test('before it authenticates a caller may send only a small frame, and refusals are rate-limited in the log', async (t) => {
  const log = capture();
  const b = transport(t, 'b', SECRET, [], log.logger);
  const port = await b.start();
  const session = async (frames: Buffer[]): Promise<void> => {
    const s = net.connect(port, '127.0.0.1');
    s.on('data', () => {});
    s.on('error', () => {});
    await new Promise<void>((r) => s.once('connect', () => r()));
    for (const f of frames) s.write(f);
    await new Promise<void>((r) => s.once('close', () => r()));
  };
  const frame = (p: Buffer) => Buffer.concat([frameHeader(p.length), p]);
  const hello = frame(packr.pack({ t: 'hello', v: PROTOCOL_VERSION, cluster: 'g', from: 'x', to: 'b', nonce: Buffer.alloc(32, 1) }));
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(200 * 1024 * 1024, 0);
  await session([hello, huge]);
  t.ok(log.lines.some((l) => /exceeds the 65536-byte limit/.test(String(l.obj.reason))), 'a 200 MiB frame header before authentication is cut at 64 KiB');

  for (let i = 0; i < 20; i++) await session([hello, frame(packr.pack({ t: 'auth', proof: Buffer.alloc(32, i) }))]);
  const refused = log.lines.filter((l) => /did not prove/.test(String(l.obj.reason)));
  t.ok(refused.length >= 1 && refused.length <= 5, `20 refusals from one address, ${refused.length} logged`);
  t.ok(b.metrics().rejectedConnections >= 20, 'every refusal counted');
});

void t.test('a group forms with the secret; a member with the wrong one is kept out and logged', async (t) => {
  const log = capture();
  const c = await makeCluster(t, ['a', 'b', 'c'], { transport: { secret: SECRET }, logger: log.logger });
  const leader = await c.waitLeader();
  await leader.node.propose(put('k', 'v1'));
  await c.stop('c');
  const cLog = capture();
  await c.start('c', { transport: { secret: WRONG }, logger: cLog.logger });
  const l2 = await c.waitLeader(8000, 'c');
  await l2.node.propose(put('k', 'v2'));
  await until('the others refuse c', () => log.lines.some((l) => /"c" did not prove the group's secret/.test(String(l.obj.reason))));
  await until('c refuses the others', () => cLog.lines.some((l) => l.msg === 'raft transport: peer refused'));
  t.equal(c.members.get('c')!.node.isLeader, false);
  t.not(Buffer.from(c.members.get('c')!.sm.get('k') ?? []).toString(), 'v2', 'c never received the new entry');
});
