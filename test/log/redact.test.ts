import t from 'tap';
import { Writable } from 'node:stream';
import { createLogger, jobLogger, shardLogger } from '../../src/log/logger.js';
import { isSecretKey, redactSecrets, redactString } from '../../src/log/redact.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  let raw = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw += chunk.toString();
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { stream, lines, raw: () => raw };
}

t.test('secret keys are recognised by name at any depth', (t) => {
  for (const k of ['password', 'meta_pwd', 'computer_pwd', 'passwd', 'api_token', 'repl-password', 'Authorization', 'secret']) {
    t.ok(isSecretKey(k), k);
  }
  for (const k of ['user', 'port', 'pwdx', 'hostaddr', 'passes']) t.notOk(isSecretKey(k), k);
  const out = redactSecrets({ a: { b: [{ password: 'p1' }, { nested: { meta_pwd: 'p2', user: 'u' } }] }, passwd: 'p3' });
  t.same(out, { a: { b: [{ password: '<redacted>' }, { nested: { meta_pwd: '<redacted>', user: 'u' } }] }, passwd: '<redacted>' });
  t.end();
});

t.test('credentials in URLs and bearer tokens are redacted in strings', (t) => {
  t.equal(redactString('connect mysql://clustmgr:s3cr3t@10.0.0.5:3306/db failed'), 'connect mysql://clustmgr:<redacted>@10.0.0.5:3306/db failed');
  t.equal(redactString('Authorization: Bearer abc.def-123'), 'Authorization: Bearer <redacted>');
  t.equal(redactString('nats://127.0.0.1:4222'), 'nats://127.0.0.1:4222');
  t.end();
});

t.test('no secret ever reaches a log line', (t) => {
  const c = capture();
  const log = createLogger({ stream: c.stream, level: 'debug' });
  const secrets = ['hunter2', 'rootpw', 'tok-xyz', 'pgpass'];
  log.info({ paras: { computer_user: 'abc', computer_pwd: 'hunter2' } }, 'create_cluster accepted');
  log.warn({ node: { host: 'h', password: 'rootpw' } }, 'node unreachable');
  log.error({ err: Object.assign(new Error('auth failed for postgres://u:pgpass@h/db'), { token: 'tok-xyz' }) }, 'boom');
  log.info('connecting to mysql://u:rootpw@10.0.0.1:3306');
  log.flush();
  setImmediate(() => {
    for (const s of secrets) t.notMatch(c.raw(), s, `${s} is not logged`);
    t.equal(c.lines.length, 4);
    t.match(c.lines[0], { paras: { computer_user: 'abc', computer_pwd: '<redacted>' }, msg: 'create_cluster accepted' });
    t.match(c.lines[3], { msg: 'connecting to mysql://u:<redacted>@10.0.0.1:3306' });
    t.end();
  });
});

t.test('job and shard loggers carry their ids on every line', (t) => {
  const c = capture();
  const log = createLogger({ stream: c.stream });
  jobLogger(log, 120, 'create_cluster').info('step done');
  shardLogger(log, 3, 7).info('primary changed');
  setImmediate(() => {
    t.match(c.lines[0], { job_id: '120', job_type: 'create_cluster', msg: 'step done' });
    t.match(c.lines[1], { cluster_id: '3', shard_id: '7', msg: 'primary changed' });
    t.end();
  });
});
