import 'reflect-metadata';
import { RequestMethod } from '@nestjs/common';
import { INTERCEPTORS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
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
    const routes: { path: string; method: RequestMethod; multipart: boolean }[] = [];
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
          routes.push({ path, method: Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod, multipart: interceptors.includes(PhotoUploadInterceptor) });
        }
      }
    }
    expect(routes.some((r) => r.multipart)).toBe(true);
    // the policy is per path: a path is multipart when a handler on it parses multipart (a GET beside it has no body),
    // and no handler that takes a body (POST, PUT, PATCH) on such a path may expect JSON
    const multipartPaths = new Set(routes.filter((r) => r.multipart).map((r) => r.path));
    for (const r of routes) expect(MULTIPART_ROUTES.some((re) => re.test(r.path)), r.path).toBe(multipartPaths.has(r.path));
    const bodied = [RequestMethod.POST, RequestMethod.PUT, RequestMethod.PATCH];
    for (const r of routes) if (multipartPaths.has(r.path) && bodied.includes(r.method)) expect(r.multipart, `${RequestMethod[r.method]} ${r.path}`).toBe(true);
  });
});
