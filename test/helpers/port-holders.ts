// Ports held the two ways a real host holds them: a listening program, and an outgoing connection
// (what fails installs on ports of the kernel's ephemeral range). The connection is made by socat with
// `bind=`: its socket has no SO_REUSEADDR, like a socket the kernel gave an ephemeral port to, so a
// server's bind fails on it while a connect test sees nothing there.
import { createServer, type Server, type Socket } from 'node:net';
import { spawn } from 'node:child_process';

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

/** An established connection whose local end is 127.0.0.1:port (nothing listens on port). */
export async function holdByConnection(port: number): Promise<Held> {
  const peers: Socket[] = [];
  const srv = createServer((s) => peers.push(s));
  const connected = new Promise<void>((resolve) => srv.once('connection', () => resolve()));
  await new Promise<void>((resolve) => srv.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const to = (srv.address() as { port: number }).port;
  const child = spawn('socat', ['-u', `TCP:127.0.0.1:${to},bind=127.0.0.1:${port}`, 'OPEN:/dev/null'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const failed = exited.then(() => {
    throw new Error(`socat could not hold 127.0.0.1:${port} by a connection (is socat installed? deploy/setup.sh installs it)`);
  });
  failed.catch(() => undefined); // only the race below waits for it
  await Promise.race([connected, failed]);
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

function closeServer(srv: Server): Promise<void> {
  return new Promise((resolve) => srv.close(() => resolve()));
}
