import { Inject, Injectable } from '@nestjs/common';
import { COMMAND_SCOPES } from '../contracts/commands';
import { isCodedError } from '../contracts/errors';
import { scopeAllows } from '../contracts/scopes';
import { acceptedFormat, describeFormats, FRAME_FORMATS } from '../inference/image-format';
import type { Connection } from './connection';
import { DeliveryMetrics } from './delivery.metrics';
import { scrubSecrets } from './error-mapping';

/** Anything but a frame format (inference/image-format.ts, by magic bytes) is refused before it reaches a decoder. */
const NOT_A_FRAME = `binary frame: not a ${describeFormats(FRAME_FORMATS)} image`;

/**
 * Binary client messages: browser camera frames `[1 byte channel][JPEG|WebP|PNG]`. An accepted frame gets no reply
 * (frames are fire-and-forget at camera rate); anything else gets a typed error with id null.
 */
@Injectable()
export class BinaryFrames {
  constructor(@Inject(DeliveryMetrics) private readonly metrics: DeliveryMetrics) {}

  handle(connection: Connection, data: Buffer): void {
    this.metrics.messages.inc({ type: 'binary' });
    if (!connection.messageBucket.take()) return connection.error(null, 'rate_limited', 'too many messages');
    if (!connection.principal) return connection.error(null, 'unauthorized', 'not authenticated');
    if (!scopeAllows(connection.principal.scope, COMMAND_SCOPES['browser.open'])) {
      return connection.error(null, 'forbidden', 'browser frames need the admin scope');
    }
    if (data.length < 2) return connection.error(null, 'bad_message', 'binary frame: expected [channel byte][image]');
    const channel = data[0];
    const camera = connection.channels.get(channel);
    if (!camera) {
      return connection.error(null, 'bad_message', `binary frame: no browser camera on channel ${channel} (send browser.open first)`);
    }
    const image = data.subarray(1);
    if (!acceptedFormat(image, FRAME_FORMATS)) return connection.error(null, 'bad_message', NOT_A_FRAME);
    const fail = (err: unknown) => {
      if (isCodedError(err)) return connection.error(null, err.code, scrubSecrets(`binary frame: ${err.message}`));
      connection.error(null, 'internal', 'binary frame: the camera could not take it');
    };
    try {
      const outcome = camera.push(image);
      if (outcome instanceof Promise) {
        outcome.then((o) => {
          const r = o as { status?: unknown; error?: unknown } | undefined;
          if (r?.status === 'rejected') fail(r.error);
        }, fail);
      }
    } catch (err) {
      fail(err);
    }
  }
}
