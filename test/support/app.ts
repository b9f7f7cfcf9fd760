import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppModule } from '../../src/app.module';
import { loadConfig } from '../../src/config';
import { configureHttpEdge, HTTP_EDGE_OPTIONS } from '../../src/delivery/http-edge';
import { GatewayWsAdapter } from '../../src/delivery/ws.adapter';

export interface RealApp {
  app: INestApplication;
  url: string;
  wsUrl: string;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * The whole server (AppModule) on a random loopback port with a fresh data directory and the bundled models.
 * `beforeListen` may add to the app first (the dashboard tests serve a built dashboard with `useStaticAssets`).
 */
export async function startRealApp(
  env: Record<string, string> = {},
  dataDir?: string,
  beforeListen?: (app: NestExpressApplication) => void,
): Promise<RealApp> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'iexpr-app-'));
  const config = loadConfig({ ...process.env, DATA_DIR: dir, MODELS_DIR: join(__dirname, '..', '..', 'models'), ...env });
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), { ...HTTP_EDGE_OPTIONS, logger: ['error', 'warn'] });
  configureHttpEdge(app);
  app.useWebSocketAdapter(new GatewayWsAdapter(app));
  beforeListen?.(app);
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  // close() once: a test that closed the server and then failed leaves its harness to close it again in afterAll
  let closing: Promise<void> | null = null;
  return { app, url, wsUrl: `${url.replace(/^http/, 'ws')}/ws`, dataDir: dir, close: () => (closing ??= app.close()) };
}
