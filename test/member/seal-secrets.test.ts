// Secrets at rest, in process: the leader seals the compute password before it proposes, the World
// (and so the log, snapshots and followers) keeps only "enc:v1:…", and only a member with the key
// opens it. AES-256-GCM refuses another key and any altered byte.
import t from 'tap';
import { World } from '../../src/actors/world.js';
import { checkCommand } from '../../src/actors/commands/index.js';
import { SecretBox, isSealed } from '../../src/config/secret-box.js';
import { encodeBatch } from '../../src/events/codec.js';
import { redactEvent } from '../../src/events/redact.js';
import { createLogger } from '../../src/log/logger.js';
import { sealSecrets, secretOpener } from '../../src/member/seal-secrets.js';
import { Writable } from 'node:stream';

const KEY = 'a1'.repeat(32);
const PASSWORD = 'Comp-Pw-1234';
const lines: string[] = [];
const log = createLogger({ level: 'info', stream: new Writable({ write: (c: Buffer, _e, cb) => { lines.push(c.toString()); cb(); } }) });

t.test('a sealed value opens with the same key only, and not once altered', (t) => {
  const box = SecretBox.fromText(KEY);
  const sealed = box.seal(PASSWORD);
  t.ok(isSealed(sealed) && !sealed.includes(PASSWORD));
  t.not(box.seal(PASSWORD), sealed, 'a fresh nonce each time');
  t.equal(box.open(sealed), PASSWORD);
  t.throws(() => SecretBox.fromText('b2'.repeat(32)).open(sealed), /does not open with this secrets_key_file/);
  const raw = Buffer.from(sealed.slice('enc:v1:'.length), 'base64');
  raw[raw.length - 1]! ^= 1;
  t.throws(() => box.open(`enc:v1:${raw.toString('base64')}`), /does not open/);
  t.equal(box.open('plain-from-an-older-log'), 'plain-from-an-older-log', 'a value never sealed is taken as is');
  t.throws(() => SecretBox.fromText('short'), /32 bytes/);
  t.end();
});

t.test('the log entry, the world and its snapshot hold the password sealed; the member with the key opens it', (t) => {
  const box = SecretBox.fromText(KEY);
  const world = new World();
  const checked = checkCommand(world, { kind: 'cluster.create', haMode: 'rbr', maxStorageSizeGB: 1, maxConnections: 1, cpuCores: 1, innodbSizeMB: 1, compPassword: PASSWORD }, { at: 1_764_000_000_000, cause: { user: 't' } });
  if (!checked.ok) throw new Error(checked.reason);
  const entry = encodeBatch(sealSecrets(checked.events, box, log));
  t.notOk(Buffer.from(entry).includes(PASSWORD), 'the proposed entry has no clear password');
  t.ok(Buffer.from(entry).includes('enc:v1:'), 'it carries the sealed form');
  const applied = world.applyEntry(1, entry);
  t.ok(applied.ok, 'the sealed value passes the catalog (longer than the clear one may be)');
  const id = Number(checked.events[0]!.agg.split('/')[1]);
  t.notOk(Buffer.from(world.snapshot()).includes(PASSWORD), 'the snapshot has no clear password');
  t.ok(isSealed(world.clusterSecret(id)!.password!), 'without the opener the world hands out the sealed form');

  const follower = World.restore(world.snapshot());
  follower.setSecretOpener(secretOpener(box));
  t.equal(follower.clusterSecret(id)!.password, PASSWORD, 'a member with the key opens it where it is used');
  const keyless = World.restore(world.snapshot());
  keyless.setSecretOpener(secretOpener(null));
  t.throws(() => keyless.clusterSecret(id), /sealed but this member has no secrets_key_file/);
  t.equal(JSON.stringify(redactEvent(checked.events[0]!)).includes(PASSWORD), false, 'the mirror form is redacted');
  t.end();
});

t.test('the well-known default compute password is warned about', (t) => {
  const checked = checkCommand(new World(), { kind: 'cluster.create', haMode: 'rbr', maxStorageSizeGB: 1, maxConnections: 1, cpuCores: 1, innodbSizeMB: 1 }, { at: 1_764_000_000_000, cause: { user: 't' } });
  if (!checked.ok) throw new Error(checked.reason);
  sealSecrets(checked.events, null, log);
  t.match(lines.join(''), /create_cluster without computer_password/);
  t.end();
});
