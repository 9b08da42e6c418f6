// The one free-port finder: distinct ports, each bindable when handed out.
import t from 'tap';
import { freePort, freePorts, portBindable } from '../../src/launcher/index.js';

void t.test('freePorts hands out n distinct bindable loopback ports, never one freePort gave before', async (t) => {
  const one = await freePort();
  const many = await freePorts(6);
  t.equal(many.length, 6, 'as many ports as asked');
  t.equal(new Set([one, ...many]).size, 7, 'no port is handed out twice');
  for (const p of many) t.ok(await portBindable(p), `port ${p} can be bound`);
});
