/**
 * Delivery wired to the real ingest CameraService (no ffmpeg needed): REST errors from real URL validation, and a
 * browser camera over the WebSocket whose decoded frames come back as JPEG previews.
 */
import 'reflect-metadata';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { ConfigModule } from '../../src/config.module';
import { decodePreview } from '../../src/contracts/wire';
import { DeliveryModule } from '../../src/delivery/delivery.module';
import { configureHttpEdge, HTTP_EDGE_OPTIONS } from '../../src/delivery/http-edge';
import { GatewayWsAdapter } from '../../src/delivery/ws.adapter';
import { CameraService } from '../../src/ingest/camera.service';
import { IngestModule } from '../../src/ingest/ingest.module';
import { StorageModule } from '../../src/storage/storage.module';
import { TestClient } from '../support/server';

describe('delivery + real CameraService', () => {
  let app: NestExpressApplication;
  let base: string;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iex-wiring-'));
    const config = loadConfig({ DATA_DIR: dir, PREVIEW_FPS: '10' });
    const moduleRef = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot(config),
        StorageModule,
        DeliveryModule.forRoot({ imports: [IngestModule], cameras: { useExisting: CameraService } }),
      ],
    }).compile();
    app = moduleRef.createNestApplication<NestExpressApplication>({ ...HTTP_EDGE_OPTIONS, logger: false });
    configureHttpEdge(app);
    app.useWebSocketAdapter(new GatewayWsAdapter(app));
    await app.listen(0, '127.0.0.1');
    base = `127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('REST: bad scheme -> 400 invalid_url, unknown id -> 404, credentials never echoed', async () => {
    const http = request(`http://${base}`);
    const bad = await http.post('/api/cameras').send({ url: 'gopher://user:pw123@host/x' }).expect(400);
    expect(bad.body.error).toBe('invalid_url');
    expect(JSON.stringify(bad.body)).not.toContain('pw123');
    expect((await http.get('/api/cameras/nope').expect(404)).body.error).toBe('not_found');
    await http.delete('/api/cameras/nope').expect(404);
  });

  it('browser camera: frames pushed over WS are decoded and come back as previews', async () => {
    const c = await TestClient.connect(`ws://${base}/ws`);
    const ack = await c.request<{ type: 'ack'; id: string; cameraId: string; channel: number }>({ type: 'browser.open', id: 'b', name: 'tab', fps: 10 });
    expect(ack.type).toBe('ack');
    await c.request({ type: 'subscribe', id: 's', cameras: [ack.cameraId], preview: true });
    const jpeg = await sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 255, g: 0, b: 0 } } }).jpeg().toBuffer();
    let preview = null;
    for (let i = 0; i < 20 && !preview; i++) {
      c.send(Buffer.concat([Buffer.from([ack.channel]), jpeg]));
      const got = await c.next((m) => m.type === 'binary', 500).catch(() => null);
      if (got && got.type === 'binary') preview = decodePreview(got.data);
    }
    expect(preview?.cameraId).toBe(ack.cameraId);
    const px = await sharp(Buffer.from(preview!.jpeg)).raw().toBuffer();
    expect(px[0]).toBeGreaterThan(200); // red stays red: BGR -> RGB handled
    expect(px[2]).toBeLessThan(60);
    const list = (await request(`http://${base}`).get('/api/cameras').expect(200)).body as { id: string; kind: string }[];
    expect(list.find((x) => x.id === ack.cameraId)?.kind).toBe('browser');
    c.close();
    await c.waitClose();
    for (let i = 0; i < 50; i++) {
      const now = (await request(`http://${base}`).get('/api/cameras')).body as { id: string }[];
      if (!now.some((x) => x.id === ack.cameraId)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('browser camera outlived its socket');
  });
});
