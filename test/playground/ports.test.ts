// The playground's port plan: a default block clear of the ephemeral range wherever it lies, taken
// ports of its own servers moved to a spare one (their holder named) or refused in one line, and
// instance port ranges started past the ports some program holds.
import t from 'tap';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { claimPortBlock } from '../../src/launcher/index.js';
import { BLOCK_SIZE, chooseBase, clearRange, DEFAULT_BASE_PORT, layout, MAX_BASE_PORT, mustBind, pickPort } from '../../src/playground/ports.js';

t.test('the layout of a block', (t) => {
  const l = layout(18_000);
  t.same(l.members, [
    { http: 18_000, raft: 18_001 },
    { http: 18_010, raft: 18_011 },
    { http: 18_020, raft: 18_021 },
  ]);
  t.same([l.agent, l.nats, l.meta], [18_100, 18_200, [18_301, 18_302, 18_303]]);
  t.same([l.spare, l.computer, l.storage], [
    { lo: 18_400, hi: 18_499 },
    { lo: 18_500, hi: 18_999 },
    { lo: 19_000, hi: 19_999 },
  ]);
  t.equal(MAX_BASE_PORT + BLOCK_SIZE - 1, 65_535, 'the highest base still fits');
  t.end();
});

t.test('the base: the default unless the ephemeral range covers it', (t) => {
  const debian = { lo: 32_768, hi: 60_999 };
  t.same(chooseBase(null, debian), { base: DEFAULT_BASE_PORT, warning: null }, "Debian's range");
  t.same(chooseBase(null, { lo: 49_152, hi: 65_535 }), { base: DEFAULT_BASE_PORT, warning: null }, "IANA's range");
  t.same(chooseBase(null, null), { base: DEFAULT_BASE_PORT, warning: null }, 'no /proc');
  t.same(chooseBase(null, { lo: 10_000, hi: 65_535 }), { base: 8_000, warning: null }, 'below a range that covers it');
  t.same(chooseBase(null, { lo: 15_000, hi: 32_000 }), { base: 13_000, warning: null }, 'below, 1000-aligned');
  t.same(chooseBase(null, { lo: 2_000, hi: 40_000 }), { base: 41_000, warning: null }, 'above when there is no room below');
  const all = chooseBase(null, { lo: 1_024, hi: 65_535 });
  t.equal(all.base, DEFAULT_BASE_PORT, 'no room anywhere: the default');
  t.match(all.warning, /ephemeral port range 1024-65535 .* leaves no block of 2000 ports outside it/);
  t.same(chooseBase(5_000, debian), { base: 5_000, warning: null }, '--base-port outside the range');
  t.match(chooseBase(58_000, debian), { base: 58_000, warning: /ports 58000-59999 overlap the ephemeral port range 32768-60999/ }, '--base-port inside it: warned');
  for (const eph of [debian, { lo: 10_000, hi: 65_535 }, { lo: 2_000, hi: 40_000 }, { lo: 20_500, hi: 21_000 }]) {
    const { base } = chooseBase(null, eph);
    t.ok(base + BLOCK_SIZE - 1 < eph.lo || base > eph.hi, `${eph.lo}-${eph.hi}: block ${base}-${base + BLOCK_SIZE - 1} is clear of it`);
  }
  t.end();
});

/**
 * A listener on `port` and an outgoing connection to it. The connection's local port is the kernel's
 * choice (an ephemeral one), bound without SO_REUSEADDR as most programs' connections are: that is
 * what makes a later server's bind fail (libuv's own bind to a given local port sets SO_REUSEADDR,
 * which Linux lets a listener share).
 */
async function hold(port: number): Promise<{ srv: Server; out: Socket; outPort: number }> {
  const srv = createServer((s) => s.on('error', () => {}));
  srv.listen({ host: '127.0.0.1', port });
  await once(srv, 'listening');
  const out = connect({ host: '127.0.0.1', port });
  await once(out, 'connect');
  return { srv, out, outPort: out.localPort! };
}

t.test('taken ports: moved to a spare one with the holder named, or one line naming it', async (t) => {
  const block = claimPortBlock(30_000, 27);
  const { srv, out, outPort } = await hold(block.lo);
  t.teardown(() => {
    out.destroy();
    srv.close();
    block.release();
  });
  const said: string[] = [];
  const taken = new Set<number>();
  const spare = { lo: block.lo + 50, hi: block.lo + 51 };
  t.equal(await pickPort('member1 HTTP', block.lo + 10, spare, taken, (l) => said.push(l)), block.lo + 10, 'a free port is kept');
  t.equal(await pickPort('NATS', block.lo + 10, spare, taken, (l) => said.push(l)), block.lo + 50, 'a port given out already moves');
  t.equal(await pickPort('member1 Raft', outPort, spare, taken, (l) => said.push(l)), block.lo + 51, "an outgoing connection's port moves");
  t.equal(said[1], `port ${outPort} (member1 Raft) is taken: pid ${process.pid} (node), a connection 127.0.0.1:${outPort} → 127.0.0.1:${block.lo} (established); using ${block.lo + 51}`);
  const err = await pickPort('node agent', block.lo, spare, taken, () => {}).then(
    () => null,
    (e: Error) => e.message,
  );
  t.equal(err, `node agent: port 127.0.0.1:${block.lo} is taken (pid ${process.pid} (node), listening on 127.0.0.1:${block.lo}) and so is every spare port ${spare.lo}-${spare.hi}`);
  await t.rejects(mustBind([{ what: 'member2 HTTP', port: block.lo + 20 }, { what: 'NATS', port: block.lo }]), {
    message: `NATS: port 127.0.0.1:${block.lo} is taken (pid ${process.pid} (node), listening on 127.0.0.1:${block.lo}); stop that program or start afresh without --keep`,
  });
  await mustBind([{ what: 'member2 HTTP', port: block.lo + 20 }]);
});

t.test("an instance range starts past the held ports among the slots the demo's installs take", async (t) => {
  const block = claimPortBlock(30_000, 27);
  // Held: the first slot's port, and one inside the second slot.
  const a = await hold(block.lo);
  const b = await hold(block.lo + 5);
  t.teardown(() => {
    for (const h of [a, b]) {
      h.out.destroy();
      h.srv.close();
    }
    block.release();
  });
  const r = { lo: block.lo, hi: block.lo + 99 };
  const got = await clearRange(r, 2, 4);
  t.same(got.range, { lo: block.lo + 6, hi: block.lo + 99 }, 'two clear slots of 4 ports from the 7th port');
  t.equal(got.skipped.length, 2);
  t.match(got.skipped[0], `${block.lo}: pid ${process.pid} (node), listening`);
  t.match(got.skipped[1], `${block.lo + 5}: pid ${process.pid} (node), listening`);
  t.same(await clearRange({ lo: block.lo + 10, hi: block.lo + 99 }, 3, 4), { range: { lo: block.lo + 10, hi: block.lo + 99 }, skipped: [] }, 'a clear range is kept');
  t.same((await clearRange({ lo: block.lo, hi: block.lo + 3 }, 2, 4)).range.lo, block.lo + 1, 'a range too small ends where it ends (the manager then says so)');
});
