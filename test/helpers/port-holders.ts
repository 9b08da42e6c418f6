// Ports held the two ways a real host holds them: a listening program, and an outgoing connection
// (what fails installs on ports of the kernel's ephemeral range). The connection is made by socat with
// `bind=`: its socket has no SO_REUSEADDR, like a socket the kernel gave an ephemeral port to, so a
// server's bind fails on it while a connect test sees nothing there.
import { createServer, type Server, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Held {
  port: number;
  release(): Promise<void>;
}

/** A listener on 127.0.0.1:port. */
export async function holdListening(port: number): Promise<Held> {
  const srv = createServer((s) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, resolve);
  });
  return { port, release: () => closeServer(srv) };
}

/**
 * An established connection whose local end is 127.0.0.1:port (nothing listens on port). A port an
 * earlier test's server used may still have TIME_WAIT sockets for up to 60 s, and a bind without
 * SO_REUSEADDR fails on those: socat is tried again until then.
 */
export async function holdByConnection(port: number, waitMs = 75_000): Promise<Held> {
  const peers: Socket[] = [];
  const srv = createServer((s) => peers.push(s));
  await new Promise<void>((resolve) => srv.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const to = (srv.address() as { port: number }).port;
  const deadline = Date.now() + waitMs;
  for (;;) {
    const connected = new Promise<void>((resolve) => srv.once('connection', () => resolve()));
    const child = spawn('socat', ['-u', `TCP:127.0.0.1:${to},bind=127.0.0.1:${port}`, 'OPEN:/dev/null'], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    const held = await Promise.race([connected.then(() => true), exited.then(() => false)]);
    if (held) {
      return {
        port,
        release: async () => {
          child.kill('SIGKILL');
          await exited;
          for (const p of peers) p.destroy();
          await closeServer(srv);
        },
      };
    }
    srv.removeAllListeners('connection');
    srv.on('connection', (s) => peers.push(s));
    if (Date.now() > deadline) {
      await closeServer(srv);
      throw new Error(`socat could not hold 127.0.0.1:${port} by a connection for ${waitMs / 1000} s (is socat installed? deploy/setup.sh installs it)`);
    }
    await sleep(500);
  }
}

function closeServer(srv: Server): Promise<void> {
  return new Promise((resolve) => srv.close(() => resolve()));
}
