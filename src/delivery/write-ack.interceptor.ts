import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor, Optional } from '@nestjs/common';
import { from, lastValueFrom, Observable } from 'rxjs';
import { LocalWriteAcknowledgement, WriteAcknowledgement } from '../storage/ports/write-acknowledgement';

/**
 * Every REST request runs inside WriteAcknowledgement.run (registered app-wide, APP_INTERCEPTOR): the answer leaves
 * only once every write the handler made is stored where it must be. One node: SQLite stored it already (no wait).
 * Clustered: JetStream stored it too; when it did not, the request answers 503 `unavailable` and the change is undone
 * (docs/CLUSTER.md "Shared state").
 */
@Injectable()
export class WriteAckInterceptor implements NestInterceptor {
  constructor(@Optional() @Inject(WriteAcknowledgement) private readonly ack: WriteAcknowledgement = new LocalWriteAcknowledgement()) {}

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return from(this.ack.run(() => lastValueFrom(next.handle(), { defaultValue: undefined })));
  }
}
