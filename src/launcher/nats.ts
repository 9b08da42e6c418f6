// A nats-server with JetStream and a store dir of its own on a loopback port.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
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
    this.proc.spec.args = [
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
    return connect({ servers: this.url, timeout: 2_000, reconnect: false });
  }

}
