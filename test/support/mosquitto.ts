/**
 * A real MQTT broker for tests: Debian's mosquitto on a free loopback port, its config in a temp dir, no persistence
 * (a restart loses retained messages, as a broker without a volume does). `kill()` is a crash (SIGKILL); `start()`
 * again reuses the same port.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool } from './require-tool';

/** mosquitto's path (Debian installs it in /usr/sbin, often not on a user's PATH); null = skip, and under CI=true a failure. */
export function requireMosquitto(): string | null {
  const found = findTool('mosquitto') ?? findTool('/usr/sbin/mosquitto');
  if (found) return found;
  const message = 'mosquitto is not installed: `apt-get install -y mosquitto`';
  if (process.env.CI === 'true') throw new Error(`${message} (required when CI=true)`);
  console.warn(`skipping: ${message}`);
  return null;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

export class Mosquitto {
  private child: ChildProcess | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'mosquitto-'));
  private log = '';

  private constructor(
    private readonly bin: string,
    readonly port: number,
  ) {
    writeFileSync(join(this.dir, 'mosquitto.conf'), [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', ''].join('\n'));
  }

  static async start(bin: string): Promise<Mosquitto> {
    const m = new Mosquitto(bin, await freePort());
    await m.start();
    return m;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  output(): string {
    return this.log;
  }

  /** Starts the broker (again) and resolves once its port accepts connections. */
  async start(): Promise<void> {
    const child = spawn(this.bin, ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited (${child.exitCode}):\n${this.log}`);
      if (await accepts(this.port)) return;
      if (Date.now() > deadline) throw new Error(`mosquitto not listening on ${this.port} within 10 s:\n${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGKILL (a crash: no clean disconnects, no last wills); resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.connect(port, '127.0.0.1');
  });
}
