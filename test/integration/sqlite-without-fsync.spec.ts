/**
 * SqliteDatabase.withoutFsync: the writes that happen every second from memory (history rows, the webhook delivery log)
 * commit with synchronous=NORMAL, so the event loop does not wait for a disk flush; every other write stays FULL, also
 * after a write that failed. Real SQLite in a temp directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteDatabase } from '../../src/storage/database';
import { SqliteHistoryRepository } from '../../src/storage/sqlite/history.repository';
import { SqliteWebhookRepository } from '../../src/storage/sqlite/webhook.repository';

const FULL = 2;
const NORMAL = 1;
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function open() {
  const dir = mkdtempSync(join(tmpdir(), 'iex-sync-'));
  const database = new SqliteDatabase(dir);
  cleanups.push(() => {
    database.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const level = () => database.db.pragma('synchronous', { simple: true }) as number;
  // what the level was inside each withoutFsync call
  const seen: number[] = [];
  const inner = database.withoutFsync.bind(database);
  database.withoutFsync = <T>(write: () => T): T => inner(() => (seen.push(level()), write()));
  return { database, level, seen };
}

describe('SqliteDatabase.withoutFsync', () => {
  it('runs the write at NORMAL and puts FULL back, also when the write throws', () => {
    const { database, level } = open();
    expect(level()).toBe(FULL);
    expect(database.withoutFsync(level)).toBe(NORMAL);
    expect(level()).toBe(FULL);
    expect(() =>
      database.withoutFsync(() => {
        throw new Error('disk full');
      }),
    ).toThrow('disk full');
    expect(level()).toBe(FULL);
  });

  it('history rows and the delivery log are written through it; rule changes are not', () => {
    const { database, level, seen } = open();
    new SqliteHistoryRepository(database).insertMany([
      { ts: 1000, cameraId: 'cam1', trackId: 1, userId: null, label: 'happy', scores: { angry: 0, disgust: 0, fear: 0, happy: 1, sad: 0, surprise: 0, neutral: 0 }, faces: 1, frames: 5, box: { x: 1, y: 2, w: 3, h: 4 } },
    ]);
    expect(seen).toEqual([NORMAL]);
    const webhooks = new SqliteWebhookRepository(database);
    webhooks.insert({ id: 'r1', url: 'http://127.0.0.1/', cameraId: null, userId: null, label: null, minScore: 0.5, minDurationMs: 0, cooldownMs: 0, secret: 's', enabled: true, createdAt: 1 });
    webhooks.update('r1', { minScore: 0.6 });
    expect(seen).toEqual([NORMAL]);
    webhooks.saveDeliveries([{ id: 'd1', webhookId: 'r1', status: 'delivered', attempts: 1, responseStatus: 204, lastError: null, event: '{}', createdAt: 2, updatedAt: 2 }], 100);
    expect(seen).toEqual([NORMAL, NORMAL]);
    expect(level()).toBe(FULL);
    expect(database.db.prepare('SELECT count(*) AS n FROM history').get()).toEqual({ n: 1 });
    expect(webhooks.deliveries('r1', 10).map((d) => d.status)).toEqual(['delivered']);
  });
});
