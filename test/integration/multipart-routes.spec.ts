import 'reflect-metadata';
import { INTERCEPTORS_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PhotoUploadInterceptor } from '../../src/delivery/photo-upload.interceptor';
import { MULTIPART_ROUTES } from '../../src/delivery/request-policy';
import { ROOT } from '../support/paths';

describe('MULTIPART_ROUTES', () => {
  it('names exactly the routes that parse multipart (PhotoUploadInterceptor), in every controller under src/', async () => {
    const src = join(ROOT, 'src');
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.controller.ts'));
    expect(files.length).toBeGreaterThan(2);
    const routes: { path: string; multipart: boolean }[] = [];
    for (const file of files) {
      const mod = (await import(join(src, file))) as Record<string, unknown>;
      for (const ctrl of Object.values(mod)) {
        if (typeof ctrl !== 'function' || Reflect.getMetadata(PATH_METADATA, ctrl) === undefined) continue;
        const base = String(Reflect.getMetadata(PATH_METADATA, ctrl));
        for (const name of Object.getOwnPropertyNames(ctrl.prototype)) {
          const handler = (ctrl.prototype as Record<string, unknown>)[name];
          if (typeof handler !== 'function' || Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
          const sub = String(Reflect.getMetadata(PATH_METADATA, handler));
          const path = `/${base}/${sub}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1').replace(/:[^/]+/g, 'x1');
          const interceptors = (Reflect.getMetadata(INTERCEPTORS_METADATA, handler) ?? []) as unknown[];
          routes.push({ path, multipart: interceptors.includes(PhotoUploadInterceptor) });
        }
      }
    }
    expect(routes.some((r) => r.multipart)).toBe(true);
    for (const r of routes) expect(MULTIPART_ROUTES.some((re) => re.test(r.path)), r.path).toBe(r.multipart);
  });
});
