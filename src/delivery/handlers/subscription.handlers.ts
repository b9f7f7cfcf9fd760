import { Injectable } from '@nestjs/common';
import type { CommandOf } from '../../contracts/commands';
import { CodedError } from '../../contracts/errors';
import { CameraSet } from '../camera-set';
import { CommandContext, WsCommand, WsCommandHandler } from '../command-handler';

@Injectable()
@WsCommand('subscribe')
export class SubscribeHandler implements WsCommandHandler<'subscribe'> {
  handle({ cameras, preview }: CommandOf<'subscribe'>, { connection }: CommandContext) {
    if (connection.events.wouldOverflow(cameras)) {
      throw new CodedError('bad_message', `cameras: at most ${CameraSet.MAX_IDS} camera ids per connection`);
    }
    connection.events.add(cameras);
    // preview:true adds these cameras' previews, preview:false stops them, absent leaves previews as they are.
    if (preview === true) connection.previews.add(cameras);
    if (preview === false) connection.previews.delete(cameras);
    return { cameras: connection.events.toJSON(), previews: connection.previews.toJSON() };
  }
}

@Injectable()
@WsCommand('unsubscribe')
export class UnsubscribeHandler implements WsCommandHandler<'unsubscribe'> {
  handle({ cameras }: CommandOf<'unsubscribe'>, { connection }: CommandContext) {
    if (connection.events.wouldOverflow(cameras)) {
      throw new CodedError('bad_message', `cameras: at most ${CameraSet.MAX_IDS} camera ids per connection`);
    }
    connection.events.delete(cameras);
    connection.previews.delete(cameras);
    return { cameras: connection.events.toJSON(), previews: connection.previews.toJSON() };
  }
}
