import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';
import { parseAllowedOrigins } from '../auth/origin';
import { CONFIG, Config } from '../config';
import { hostPolicy, isHostAllowed } from './host-policy';
import { bodyTypeProblem, isStateChangeAllowed } from './request-policy';

/** JSON body limit: body-parser's default, which every route was served with before the edge was explicit. */
export const JSON_BODY_LIMIT = '100kb';

/**
 * Options every Nest application that serves HTTP is created with (`NestFactory.create(module, {...HTTP_EDGE_OPTIONS})`):
 * no default body parsers, so nothing parses urlencoded bodies; configureHttpEdge adds the JSON one.
 */
export const HTTP_EDGE_OPTIONS = { bodyParser: false } as const;

/** The Swagger UI (@nestjs/swagger) and its assets. */
const DOCS_PATH = /^\/api\/docs(\/|$)/;

/**
 * The dashboard's CSP: its scripts, styles and WebSocket are same-origin ('self' covers ws:// to the same host:port
 * in CSP 3), previews are drawn from Blobs with createImageBitmap (no URL load), and the favicon is a data: URL.
 */
const DIRECTIVES = {
  defaultSrc: ["'self'"],
  baseUri: ["'none'"],
  objectSrc: ["'none'"],
  frameAncestors: ["'none'"],
  formAction: ["'self'"],
  imgSrc: ["'self'", 'data:'],
};

/** Swagger UI puts <style> blocks in its page and draws its icons from data: URLs: inline styles on that path only. */
const DOCS_DIRECTIVES = { ...DIRECTIVES, styleSrc: ["'self'", "'unsafe-inline'"] };

function headers(directives: typeof DIRECTIVES): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives },
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' },
    // The server speaks plain HTTP (TLS is a proxy's job, and HSTS on localhost would stick to every local port).
    strictTransportSecurity: false,
  });
}

function refuse(res: Response, status: number, error: string, message: string): void {
  res.status(status).json({ statusCode: status, error, message });
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * The HTTP edge, in front of every route, static file and the API docs, in this order: security headers (helmet),
 * Host check (421, DNS rebinding), origin check for state changes (403, CSRF), body type (415), JSON parser. Call it
 * right after creating the app, before anything that registers routes (useStaticAssets, setupOpenApi), on an app
 * created with HTTP_EDGE_OPTIONS. The WebSocket upgrade's Host check is in GatewayWsAdapter (same policy).
 */
export function configureHttpEdge(app: NestExpressApplication): void {
  const config = app.get<Config>(CONFIG);
  const hosts = hostPolicy(config.HOST, config.ALLOWED_HOSTS);
  const allowedOrigins = parseAllowedOrigins(config.ALLOWED_ORIGINS);
  const express = app.getHttpAdapter().getInstance() as { disable(setting: string): void };
  express.disable('x-powered-by');

  const appHeaders = headers(DIRECTIVES);
  const docsHeaders = headers(DOCS_DIRECTIVES);
  app.use((req: Request, res: Response, next: NextFunction) => (DOCS_PATH.test(req.path) ? docsHeaders : appHeaders)(req, res, next));
  app.use((req: Request, res: Response, next: NextFunction) => {
    const host = req.headers.host;
    if (!isHostAllowed(host, hosts)) {
      return refuse(res, 421, 'forbidden', 'this Host is not served here: use localhost or the address the server listens on, or add the name to ALLOWED_HOSTS');
    }
    const origin = req.headers.origin;
    const secFetchSite = req.headers['sec-fetch-site'];
    if (!isStateChangeAllowed({ method: req.method, origin, secFetchSite: typeof secFetchSite === 'string' ? secFetchSite : undefined, host, allowedOrigins })) {
      return refuse(res, 403, 'forbidden', 'cross-origin request refused: changes must come from this server\'s own pages or an origin in ALLOWED_ORIGINS');
    }
    const problem = bodyTypeProblem(req.path, req.headers['content-type'], hasBody(req));
    if (problem) return refuse(res, problem.status, 'bad_message', problem.message);
    next();
  });
  app.useBodyParser('json', { limit: JSON_BODY_LIMIT });
}
