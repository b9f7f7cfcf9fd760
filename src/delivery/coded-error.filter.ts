import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { HTTP_STATUS, isCodedError, scrubSecrets } from './coded-error';

/**
 * Registered app-wide (APP_FILTER in DeliveryModule) so every controller answers errors the same way.
 * REST errors as `{statusCode, error: <ErrorCode>, message}`: coded errors (CodedError, IngestError) by HTTP_STATUS,
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
      const body = err.getResponse();
      const status = err.getStatus();
      res.status(status).json(
        typeof body === 'object'
          ? body
          : { statusCode: status, error: status === 413 ? 'too_large' : 'bad_message', message: scrubSecrets(body) },
      );
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
