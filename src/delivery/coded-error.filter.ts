import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ERROR_CODES, ErrorCode, isCodedError } from '../contracts/errors';
import { HTTP_STATUS, scrubSecrets } from './error-mapping';

const CODES = new Set<string>(ERROR_CODES);

function codeForStatus(status: number): ErrorCode {
  const byStatus: Record<number, ErrorCode> = { 400: 'bad_message', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'too_large', 429: 'rate_limited', 503: 'unavailable' };
  return byStatus[status] ?? (status < 500 ? 'bad_message' : 'internal');
}

/**
 * Registered app-wide (APP_FILTER in DeliveryModule) so every controller answers errors the same way.
 * REST errors as `{statusCode, error: <ErrorCode>, message}`: coded errors (CodedError and its subclasses) by HTTP_STATUS,
 * Nest's HttpExceptions as they are, anything else 500 without details (logged, credentials scrubbed).
 */
@Catch()
export class CodedErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('REST');

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    // body-parser's own errors, before any route: no echo of the body (V8 quotes it in JSON syntax errors).
    const bodyError = (err as { type?: unknown } | null)?.type;
    if (bodyError === 'entity.parse.failed') {
      res.status(400).json({ statusCode: 400, error: 'bad_json', message: 'body is not valid JSON' });
      return;
    }
    if (bodyError === 'entity.too.large') {
      res.status(413).json({ statusCode: 413, error: 'too_large', message: 'body is too large' });
      return;
    }
    if (err instanceof HttpException) {
      const status = err.getStatus();
      const body = err.getResponse();
      const fields = typeof body === 'object' && body !== null ? (body as { error?: unknown; message?: unknown }) : {};
      if (typeof fields.error === 'string' && CODES.has(fields.error)) {
        res.status(status).json(body);
        return;
      }
      // Nest's generic exceptions (unknown route, body-parser's SyntaxError) in our shape.
      const raw = typeof body === 'string' ? body : Array.isArray(fields.message) ? fields.message.join('; ') : String(fields.message ?? '');
      const isJsonSyntax = status === 400 && /JSON/.test(raw);
      res.status(status).json({
        statusCode: status,
        error: isJsonSyntax ? 'bad_json' : codeForStatus(status),
        message: isJsonSyntax ? 'body is not valid JSON' : scrubSecrets(raw),
      });
      return;
    }
    if (isCodedError(err)) {
      const status = HTTP_STATUS[err.code];
      res.status(status).json({ statusCode: status, error: err.code, message: scrubSecrets(err.message) });
      return;
    }
    this.logger.error(scrubSecrets(err instanceof Error ? (err.stack ?? err.message) : String(err)));
    res.status(500).json({ statusCode: 500, error: 'internal', message: 'internal error' });
  }
}
