import { Test, TestingModule } from '@nestjs/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { ConfigModule } from '../../src/config.module';
import { CameraStatus } from '../../src/contracts/cameras';
import { Frame } from '../../src/contracts/frames';
import { CameraService } from '../../src/ingest/camera.service';
import { IngestModule } from '../../src/ingest/ingest.module';
import { StorageModule } from '../../src/storage/storage.module';

export interface IngestApp {
  module: TestingModule;
  cameras: CameraService;
  statuses: CameraStatus[];
  frames: Frame[];
  dataDir: string;
  close(): Promise<void>;
}

/** ConfigModule + StorageModule + IngestModule through the DI container, with its lifecycle hooks run. */
export async function startIngestApp(env: Record<string, string> = {}, dataDir?: string): Promise<IngestApp> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'ingest-test-'));
  const config = loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'error', ...env });
  const module = await Test.createTestingModule({ imports: [ConfigModule.forRoot(config), StorageModule, IngestModule] }).compile();
  module.useLogger(false);
  const cameras = module.get(CameraService);
  const statuses: CameraStatus[] = [];
  const frames: Frame[] = [];
  cameras.status$.subscribe((s) => statuses.push(s));
  cameras.frames$.subscribe((f) => {
    frames.push(f);
    if (frames.length > 50) frames.shift();
  });
  await module.init();
  return { module, cameras, statuses, frames, dataDir: dir, close: () => module.close() };
}

/** Polls `predicate` every 50 ms until it holds; fails with `what` after `ms`. Resolves the elapsed ms. */
export async function waitUntil(predicate: () => boolean, ms: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (!predicate()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - t0;
}
