import { Inject, Injectable } from '@nestjs/common';
import type { CommandOf } from '../../contracts/commands';
import { CodedError } from '../../contracts/errors';
import { CommandContext, WsCommand, WsCommandHandler } from '../command-handler';
import { MAX_BROWSER_CHANNELS } from '../connection';
import { CAMERA_API, CameraApi } from '../delivery.tokens';

/** Opens a camera fed by this socket; binary frames `[channel][JPEG|WebP]` then go to it (see BinaryFrames). */
@Injectable()
@WsCommand('browser.open')
export class BrowserOpenHandler implements WsCommandHandler<'browser.open'> {
  constructor(@Inject(CAMERA_API) private readonly cameras: CameraApi) {}

  async handle({ name, fps }: CommandOf<'browser.open'>, { connection }: CommandContext) {
    if (connection.freeChannel() === null) {
      throw new CodedError('busy', `at most ${MAX_BROWSER_CHANNELS} browser cameras per connection`);
    }
    const camera = await this.cameras.openBrowserCamera(name, fps);
    // Re-check after the await: two concurrent opens must not get the same channel.
    const channel = connection.freeChannel();
    if (channel === null || !connection.isOpen) {
      await (camera.close ? camera.close() : this.cameras.remove(camera.id));
      throw new CodedError('busy', `at most ${MAX_BROWSER_CHANNELS} browser cameras per connection`);
    }
    connection.channels.set(channel, camera);
    return { cameraId: camera.id, channel };
  }
}
