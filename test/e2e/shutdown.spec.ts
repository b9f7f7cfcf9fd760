/**
 * SIGTERM to the real server (a child process) while a file camera streams and a WebSocket client is subscribed:
 * exit code 0 within 10 s, the client gets close 1001 with its reason, no ffmpeg child is left, the WAL is
 * checkpointed away and the database reopens whole with the camera in it.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ServerMessage } from '../../src/contracts/messages';
import { CLOSE_CODES } from '../../src/contracts/wire';
import { ChildServer, checkDatabase, childProcesses, queryDatabase, startChildServer } from '../support/child-server';
import { D6 } from '../support/paths';
import { requireTool } from '../support/require-tool';
import { ffmpegProcessesWith } from '../support/rtsp';
import { TestClient } from '../support/server';

const VIDEO = D6;
const hasTools = Boolean(requireTool('ffmpeg', 'ffmpeg')) && existsSync(VIDEO);

describe.skipIf(!hasTools)('graceful shutdown (SIGTERM to the child server)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'iexpr-shutdown-'));
  const dataDir = join(tmp, 'data');
  let server: ChildServer | undefined;

  afterAll(async () => {
    await server?.kill9();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('idle (no camera, no client): exits with status 0, not by the re-raised signal', async () => {
    const idle = await startChildServer({ dataDir: join(tmp, 'idle') });
    expect((await fetch(`${idle.url}/api/health`)).status).toBe(200);
    const exit = await idle.term(10_000);
    expect({ code: exit.code, signal: exit.signal, timedOut: exit.timedOut }).toEqual({ code: 0, signal: null, timedOut: false });
  }, 30_000);

  it('under load: exits 0 within 10 s, closes sockets with 1001 and a reason, leaves no ffmpeg, WAL clean', async () => {
    const video = join(tmp, 'shutdown-cam.mp4'); // a private path: marks this test's ffmpeg processes
    copyFileSync(VIDEO, video);
    const jpeg = execFileSync('ffmpeg', ['-v', 'error', '-ss', '1', '-i', VIDEO, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'mjpeg', '-']);
    server = await startChildServer({ dataDir });
    const { url, wsUrl, pid } = server;

    const ws = await TestClient.connect(wsUrl);
    expect((await ws.request({ type: 'subscribe', id: 's', cameras: '*', preview: true })).type).toBe('ack');
    const cam = (await ws.request<Extract<ServerMessage, { type: 'ack' }>>({ type: 'camera.add', id: 'c', url: `file://${video}`, loop: true, fps: 10 }))
      .camera as { id: string };
    await ws.next((m) => m.type === 'expression' && m.cameraId === cam.id, 30_000);
    expect(ffmpegProcessesWith(video)).toHaveLength(1);
    expect(childProcesses(pid, 'ffmpeg').length).toBeGreaterThanOrEqual(1);

    // More load while it stops: a second client, a browser camera pushing frames, REST writes in flight.
    const pusher = await TestClient.connect(wsUrl);
    const opened = await pusher.request<Extract<ServerMessage, { type: 'ack' }>>({ type: 'browser.open', id: 'b', fps: 10 });
    const channel = (opened as unknown as { channel: number }).channel;
    const frame = Buffer.concat([Buffer.from([channel]), jpeg]);
    const pushing = setInterval(() => pusher.ws.readyState === pusher.ws.OPEN && pusher.ws.send(frame), 50);
    const user = (await (await fetch(`${url}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"s"}' })).json()) as { id: string };
    const writes = Array.from({ length: 4 }, () =>
      fetch(`${url}/api/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"t"}' }).then(
        (r) => r.status,
        () => 'reset',
      ),
    );

    const exit = await server.term(10_000);
    clearInterval(pushing);
    expect(exit.timedOut, server.log().slice(-2000)).toBe(false);
    expect(exit.code, server.log().slice(-2000)).toBe(0);
    expect(exit.ms).toBeLessThan(10_000);

    for (const client of [ws, pusher]) {
      const closed = await client.waitClose(2000);
      expect(closed).toEqual({ code: CLOSE_CODES.goingAway, reason: 'server shutting down' });
    }
    // Every REST write either completed or was refused/reset; none hangs.
    for (const s of await Promise.all(writes)) expect([201, 503, 'reset']).toContain(s);
    expect(ffmpegProcessesWith(video)).toEqual([]);
    expect(childProcesses(pid, 'ffmpeg')).toEqual([]);

    // The last connection closed cleanly: SQLite checkpointed the WAL into the database and removed it.
    const wal = join(dataDir, 'iexpressionnet.db-wal');
    expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0);
    expect(checkDatabase(dataDir)).toEqual({ integrity: 'ok', foreignKeyViolations: 0 });
    expect(queryDatabase<{ id: string }>(dataDir, 'SELECT id FROM cameras').map((r) => r.id)).toEqual([cam.id]);
    expect(queryDatabase<{ id: string }>(dataDir, 'SELECT id FROM users').map((r) => r.id)).toContain(user.id);
    expect(server.log()).not.toMatch(/ERROR/);
  }, 60_000);
});
