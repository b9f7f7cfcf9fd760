import { Inject, Injectable } from '@nestjs/common';
import type { CommandOf } from '../../contracts/commands';
import { CameraAccess } from '../camera-access';
import { WsCommand, WsCommandHandler } from '../command-handler';

@Injectable()
@WsCommand('camera.add')
export class CameraAddHandler implements WsCommandHandler<'camera.add'> {
  constructor(@Inject(CameraAccess) private readonly cameras: CameraAccess) {}
  async handle({ type: _type, id: _id, ...input }: CommandOf<'camera.add'>) {
    return { camera: await this.cameras.add(input) };
  }
}

@Injectable()
@WsCommand('camera.remove')
export class CameraRemoveHandler implements WsCommandHandler<'camera.remove'> {
  constructor(@Inject(CameraAccess) private readonly cameras: CameraAccess) {}
  async handle({ cameraId }: CommandOf<'camera.remove'>) {
    await this.cameras.remove(cameraId);
    return { cameraId };
  }
}

@Injectable()
@WsCommand('camera.list')
export class CameraListHandler implements WsCommandHandler<'camera.list'> {
  constructor(@Inject(CameraAccess) private readonly cameras: CameraAccess) {}
  async handle() {
    return { cameras: await this.cameras.list() };
  }
}

@Injectable()
@WsCommand('camera.retry')
export class CameraRetryHandler implements WsCommandHandler<'camera.retry'> {
  constructor(@Inject(CameraAccess) private readonly cameras: CameraAccess) {}
  async handle({ cameraId }: CommandOf<'camera.retry'>) {
    return { camera: await this.cameras.retry(cameraId) };
  }
}
