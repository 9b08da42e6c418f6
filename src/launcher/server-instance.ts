// What every launched server shares: its process and the lifecycle operations tests and the agent use
// (stop, kill -9, pause with SIGSTOP, resume, restart, destroy).
import { rmSync } from 'node:fs';
import type { ManagedProcess } from './managed-process.js';

export abstract class ServerInstance {
  abstract readonly proc: ManagedProcess;
  abstract readonly dir: string;

  /** Initialises on first use, starts and waits until the server is ready. */
  abstract start(timeoutMs?: number): Promise<void>;

  get running(): boolean {
    return this.proc.running;
  }

  async stop(timeoutMs = 60_000): Promise<void> {
    await this.proc.stop(timeoutMs);
  }

  async kill9(): Promise<void> {
    await this.proc.kill9();
  }

  pause(): void {
    this.proc.pause();
  }

  resume(): void {
    this.proc.resume();
  }

  async restart(timeoutMs = 60_000): Promise<void> {
    await this.stop();
    await this.start(timeoutMs);
  }

  /** Stops the server at once and removes its directory. */
  async destroy(): Promise<void> {
    await this.kill9();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
