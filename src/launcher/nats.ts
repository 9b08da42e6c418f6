// A nats-server with JetStream and a store dir of its own on a loopback port.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { writeSecretFile } from '../config/secret-file.js';
import { ManagedProcess, waitUntil } from './managed-process.js';
import { ServerInstance } from './server-instance.js';
import { freePort } from './ports.js';
import { natsBinary } from './server-binaries.js';

export interface NatsOptions {
  dir: string;
  host?: string;
  port?: number;
  /** JetStream memory and file store limits, MB. */
  maxMemoryMb?: number;
  maxFileMb?: number;
  tiedToOwner?: boolean;
  /**
   * Require these accounts: `manager` may do everything (the members' mirror and status); `watcher` may
   * only read: subscribe to kunlun.> and read streams (replay, watch, dashboards), never publish events.
   * Without it the server is open to anyone who reaches the port.
   */
  users?: { manager: NatsUser; watcher: NatsUser };
}

export interface NatsUser {
  user: string;
  password: string;
}

/** What a read-only user may send: JetStream reads (stream info, ephemeral consumers, fetch, acks). */
const READ_ONLY_PUBLISH = [
  '$JS.API.INFO', '$JS.API.STREAM.INFO.*', '$JS.API.STREAM.NAMES', '$JS.API.STREAM.LIST', '$JS.API.STREAM.MSG.GET.*',
  '$JS.API.DIRECT.GET.>', '$JS.API.CONSUMER.CREATE.*', '$JS.API.CONSUMER.CREATE.*.>', '$JS.API.CONSUMER.INFO.*.*',
  '$JS.API.CONSUMER.DELETE.*.*', '$JS.API.CONSUMER.MSG.NEXT.*.*', '$JS.ACK.>', '$JS.FC.>',
];

/** nats-server's authorization block; strings as JSON, which its config parser reads. */
export function natsAuthConfig(users: { manager: NatsUser; watcher: NatsUser }): string {
  const q = (v: string | string[]): string => JSON.stringify(v);
  return [
    'authorization {',
    '  users = [',
    `    { user: ${q(users.manager.user)}, password: ${q(users.manager.password)} }`,
    `    { user: ${q(users.watcher.user)}, password: ${q(users.watcher.password)}, permissions: {`,
    `        publish: { allow: ${q(READ_ONLY_PUBLISH)} }`,
    `        subscribe: { allow: ${q(['kunlun.>', '_INBOX.>'])} } } }`,
    '  ]',
    '}',
    '',
  ].join('\n');
}

export class NatsInstance extends ServerInstance {
  readonly host: string;
  port: number;
  readonly dir: string;
  readonly proc: ManagedProcess;

  constructor(readonly opts: NatsOptions) {
    super();
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 0;
    this.dir = opts.dir;
    this.proc = new ManagedProcess({
      name: 'nats-server',
      command: natsBinary(),
      args: [],
      logFile: join(this.dir, 'nats-server.log'),
      tiedToOwner: opts.tiedToOwner ?? true,
      stopSignal: 'SIGTERM',
    });
  }

  get url(): string {
    return `nats://${this.host}:${this.port}`;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    mkdirSync(join(this.dir, 'jetstream'), { recursive: true });
    if (this.port === 0) this.port = await freePort(this.host);
    this.proc.spec.name = `nats-server ${this.host}:${this.port}`;
    // The passwords go in a 0600 file, never on the command line.
    const conf = join(this.dir, 'nats-server.conf');
    writeSecretFile(conf, this.opts.users ? natsAuthConfig(this.opts.users) : '# no authorization: open to every caller\n');
    this.proc.spec.args = [
      '-c', conf,
      '-a', this.host,
      '-p', String(this.port),
      '-js',
      '-sd', join(this.dir, 'jetstream'),
      '-n', `cmgr-${this.port}`,
    ];
    this.proc.start();
    await waitUntil(`${this.proc.spec.name} to serve JetStream`, this.proc, timeoutMs, async () => {
      const nc = await this.connect();
      try {
        await (await nc.jetstreamManager()).getAccountInfo();
        return true;
      } finally {
        await nc.close();
      }
    });
  }

  async connect(): Promise<NatsConnection> {
    const m = this.opts.users?.manager;
    return connect({ servers: this.url, timeout: 2_000, reconnect: false, ...(m ? { user: m.user, pass: m.password } : {}) });
  }

}
