import { Inject, Injectable } from '@nestjs/common';
import { scopeAllows } from '../auth/auth.service';
import { isCodedError, scrubSecrets } from './coded-error';
import type { Connection } from './connection';
import { DeliveryMetrics } from './delivery.metrics';
import { COMMAND_SCOPES } from './protocol';

/** JPEG starts FF D8 FF; WebP is RIFF????WEBP. Anything else is refused before it reaches a decoder. */
export function imageKind(data: Uint8Array): 'jpeg' | 'webp' | null {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpeg';
  if (
    data.length >= 12 &&
    data[0] === 0x52 && data[1] === 0x49 && data[2] === 0x46 && data[3] === 0x46 && // RIFF
    data[8] === 0x57 && data[9] === 0x45 && data[10] === 0x42 && data[11] === 0x50 // WEBP
  ) {
    return 'webp';
  }
  return null;
}

/**
 * Binary client messages: browser camera frames `[1 byte channel][JPEG|WebP]`. An accepted frame gets no reply
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
    if (!imageKind(image)) return connection.error(null, 'bad_message', 'binary frame: not a JPEG or WebP image');
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
