import { Injectable } from '@nestjs/common';
import { ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';

/**
 * The part of a child process the ingest layer uses. Events: `error` (could not spawn, e.g. ENOENT) and
 * `close` (code, signal) once the process has exited AND its stdout/stderr are drained.
 */
export interface SpawnedProcess extends EventEmitter {
  readonly pid?: number;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  kill(signal?: NodeJS.Signals): boolean;
}

/** Starts processes. The real one wraps child_process.spawn; tests inject a fake. */
export abstract class ProcessSpawner {
  abstract spawn(command: string, args: readonly string[]): SpawnedProcess;
}

const EXIT_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * child_process.spawn with an argument array (never a shell), stdin ignored. Every live child is tracked so that,
 * as a last resort, they are SIGKILLed when this process exits or gets a termination signal that nobody else
 * handles (CameraService stops them gracefully on Nest shutdown; this catches the paths that skip it).
 */
@Injectable()
export class NodeProcessSpawner extends ProcessSpawner {
  private static readonly live = new Set<ChildProcess>();
  private static hooked = false;
  private static exiting = false;

  override spawn(command: string, args: readonly string[]): SpawnedProcess {
    if (NodeProcessSpawner.exiting) throw new Error('process is exiting: not starting another child');
    NodeProcessSpawner.hook();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false, windowsHide: true });
    NodeProcessSpawner.live.add(child);
    const forget = () => NodeProcessSpawner.live.delete(child);
    child.once('exit', forget);
    child.once('error', forget);
    return child as SpawnedProcess;
  }

  /** Children started by this spawner that have not exited yet. */
  static liveCount(): number {
    return NodeProcessSpawner.live.size;
  }

  static killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
    for (const c of NodeProcessSpawner.live) {
      try {
        c.kill(signal);
      } catch {
        /* already gone */
      }
    }
  }

  private static hook(): void {
    if (NodeProcessSpawner.hooked) return;
    NodeProcessSpawner.hooked = true;
    process.once('exit', () => NodeProcessSpawner.killAll('SIGKILL'));
    for (const sig of EXIT_SIGNALS) {
      const onSignal = () => {
        // Adding a listener disables Node's default "terminate" action. When someone else handles the signal (Nest's
        // shutdown hooks stop the cameras gracefully, then re-raise it) stay out of the way; when we are the only
        // listener, kill the children, restore the default and re-raise so the process still ends.
        if (process.listenerCount(sig) > 1) return;
        NodeProcessSpawner.exiting = true;
        NodeProcessSpawner.killAll('SIGKILL');
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      };
      process.on(sig, onSignal);
    }
  }
}

/** Resolves when the process has exited (immediately if it already has), or after `timeoutMs`. */
export function waitForExit(child: SpawnedProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      child.removeListener('exit', done);
      child.removeListener('close', done);
      child.removeListener('error', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    child.once('exit', done);
    child.once('close', done);
    child.once('error', done);
  });
}
