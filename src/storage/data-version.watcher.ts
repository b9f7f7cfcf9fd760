import { Logger } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import { SqliteDatabase } from './database';

/** How often the server looks for commits by other processes (the token CLI): revocation must land within 2 s. */
export const DATA_VERSION_INTERVAL_MS = 1000;

/**
 * Tells when ANOTHER connection to the database file has committed: another process such as `npm run token -- revoke`,
 * which cannot reach the server any other way. SQLite's `PRAGMA data_version` changes exactly then (never for this
 * connection's own commits) and costs a few microseconds, so polling it once a second is cheap; the timer is unref'd
 * and never keeps the process alive. Commits made through this connection are not reported: whoever makes them
 * announces them in-process (TokenStore.changes$).
 */
export class DataVersionWatcher {
  private readonly changed = new Subject<void>();
  readonly changes$: Observable<void> = this.changed.asObservable();
  private last: number | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly database: SqliteDatabase,
    private readonly intervalMs = DATA_VERSION_INTERVAL_MS,
  ) {}

  /** Polls until stop(); the first poll sets the baseline. */
  start(): void {
    if (this.timer) return;
    this.check();
    this.timer = setInterval(() => {
      try {
        this.check();
      } catch (err) {
        // A failed poll (database busy or closing) is retried on the next tick; it must not crash the server.
        new Logger('DataVersionWatcher').warn(`data_version poll failed: ${(err as Error).message}`);
      }
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads data_version once; emits on changes$ and returns true when another connection committed since last time. */
  check(): boolean {
    if (!this.database.db.open) return false;
    const version = this.database.db.pragma('data_version', { simple: true }) as number;
    const changed = this.last !== null && version !== this.last;
    this.last = version;
    if (changed) this.changed.next();
    return changed;
  }

  onModuleInit(): void {
    this.start();
  }

  onModuleDestroy(): void {
    this.stop();
    this.changed.complete();
  }
}
