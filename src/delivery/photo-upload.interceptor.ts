import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import multer from 'multer';
import { Observable } from 'rxjs';
import { CodedError } from '../contracts/errors';
import { PHOTO_LIMITS, PhotoLimits } from '../personalization/samples/photo-faces';

/**
 * multipart/form-data with one `image` file, held in memory up to PhotoLimits.maxBytes (multer stops reading past
 * it: an oversized upload never fills memory) and a few small text fields. Errors are typed: too_large, bad_message.
 */
@Injectable()
export class PhotoUploadInterceptor implements NestInterceptor {
  private readonly upload: ReturnType<ReturnType<typeof multer>['single']>;

  constructor(@Inject(PHOTO_LIMITS) limits: PhotoLimits) {
    this.upload = multer({
      storage: multer.memoryStorage(),
      limits: { fileSize: limits.maxBytes, files: 1, fields: 8, fieldSize: 1024, parts: 10 },
    }).single('image');
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    if (!req.is('multipart/form-data')) throw new CodedError('bad_message', 'send multipart/form-data with an `image` file and a `label` field');
    await new Promise<void>((resolve, reject) =>
      this.upload(req, http.getResponse<Response>(), (err: unknown) => {
        if (!err) return resolve();
        if (err instanceof multer.MulterError) {
          reject(
            err.code === 'LIMIT_FILE_SIZE'
              ? new CodedError('too_large', 'image is over the size limit')
              : new CodedError('bad_message', `multipart: ${err.message}${err.field ? ` (${err.field})` : ''}`),
          );
        } else reject(new CodedError('bad_message', `multipart: ${(err as Error).message}`));
      }),
    );
    return next.handle();
  }
}
