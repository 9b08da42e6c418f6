// Who holds a port, named from /proc: a listener, an outgoing connection's local port (the case a
// connect test cannot see), and the decoding of the kernel's tables.
import t from 'tap';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimPortBlock } from '../../src/launcher/index.js';
import { portHolder, socketsOnPort } from '../../src/launcher/port-holder.js';

const block = claimPortBlock(30_000, 27);
t.teardown(() => block.release());

t.test('a listener and an outgoing connection are named with this pid and program', async (t) => {
  const srv = createServer((s) => s.on('error', () => {}));
  srv.listen({ host: '127.0.0.1', port: block.lo });
  await once(srv, 'listening');
  const out: Socket = connect({ host: '127.0.0.1', port: block.lo, localAddress: '127.0.0.1', localPort: block.lo + 1 });
  await once(out, 'connect');
  t.teardown(() => {
    out.destroy();
    srv.close();
  });
  t.equal(portHolder(block.lo), `pid ${process.pid} (node), listening on 127.0.0.1:${block.lo}`);
  t.equal(portHolder(block.lo + 1), `pid ${process.pid} (node), a connection 127.0.0.1:${block.lo + 1} → 127.0.0.1:${block.lo} (established)`);
  t.equal(portHolder(block.lo + 2), null, 'a port nobody holds');
});

t.test('IPv6 and ownerless sockets, from a table in the kernel format', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cmgr-port-holder-'));
  const file = join(dir, 'tcp6');
  writeFileSync(
    file,
    [
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 100 0 0 10 0',
      '   1: 0000000000000000FFFF00000100007F:1F91 0000000000000000FFFF00000100007F:0CEA 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000',
      '',
    ].join('\n'),
  );
  t.same(socketsOnPort(8080, [file]), [{ local: '[::1]:8080', remote: '[::]:0', state: 'listening', inode: 0 }]);
  t.equal(portHolder(8080, [file]), 'listening on [::1]:8080, owned by no process');
  t.equal(portHolder(8081, [file]), 'a connection ::ffff:127.0.0.1:8081 → ::ffff:127.0.0.1:3306 (time-wait), owned by no process');
  t.end();
});
