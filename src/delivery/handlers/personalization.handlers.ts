/**
 * The personalization WebSocket commands: one handler class each (CommandRouter finds them by @WsCommand). The edge
 * over PersonalizationApiModule's services; calibration and fine-tune events carry the commanding connection as its
 * id (meta.originId on the EventBus), never the Connection itself.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { CommandOf } from '../../contracts/commands';
import { CodedError } from '../../contracts/errors';
import { CalibrationService } from '../../personalization/calibration/calibration.service';
import { FacesService } from '../../personalization/faces/faces.service';
import { IdentityResolver } from '../../personalization/identity/identity.resolver';
import { ModelRegistry } from '../../personalization/registry/model.registry';
import { FinetuneJobs } from '../../personalization/users/finetune.jobs';
import { UserLifecycle } from '../../personalization/users/user.lifecycle';
import { UsersService } from '../../personalization/users/users.service';
import { CommandContext, WsCommand, WsCommandHandler } from '../command-handler';

@Injectable()
@WsCommand('user.create')
export class UserCreateHandler implements WsCommandHandler<'user.create'> {
  constructor(@Inject(UsersService) private readonly users: UsersService) {}
  handle({ name }: CommandOf<'user.create'>) {
    return { user: this.users.create(name) };
  }
}

@Injectable()
@WsCommand('user.list')
export class UserListHandler implements WsCommandHandler<'user.list'> {
  constructor(@Inject(UsersService) private readonly users: UsersService) {}
  handle() {
    return { users: this.users.list() };
  }
}

@Injectable()
@WsCommand('user.rename')
export class UserRenameHandler implements WsCommandHandler<'user.rename'> {
  constructor(@Inject(UsersService) private readonly users: UsersService) {}
  handle({ userId, name }: CommandOf<'user.rename'>) {
    return { user: this.users.rename(userId, name) };
  }
}

@Injectable()
@WsCommand('user.delete')
export class UserDeleteHandler implements WsCommandHandler<'user.delete'> {
  constructor(@Inject(UserLifecycle) private readonly lifecycle: UserLifecycle) {}
  async handle({ userId }: CommandOf<'user.delete'>) {
    await this.lifecycle.delete(userId);
    return { userId };
  }
}

@Injectable()
@WsCommand('camera.bind')
export class CameraBindHandler implements WsCommandHandler<'camera.bind'> {
  constructor(@Inject(IdentityResolver) private readonly identity: IdentityResolver) {}
  handle({ cameraId, userId }: CommandOf<'camera.bind'>) {
    return this.identity.bindCamera(cameraId, userId);
  }
}

@Injectable()
@WsCommand('track.assign')
export class TrackAssignHandler implements WsCommandHandler<'track.assign'> {
  constructor(@Inject(IdentityResolver) private readonly identity: IdentityResolver) {}
  handle({ cameraId, trackId, userId }: CommandOf<'track.assign'>) {
    return this.identity.assignTrack(cameraId, trackId, userId);
  }
}

@Injectable()
@WsCommand('calibration.start')
export class CalibrationStartHandler implements WsCommandHandler<'calibration.start'> {
  constructor(@Inject(CalibrationService) private readonly calibration: CalibrationService) {}
  handle({ type: _t, id: _id, ...req }: CommandOf<'calibration.start'>, ctx: CommandContext) {
    return { ...this.calibration.start({ ...req, originId: ctx.connection.id }) };
  }
}

@Injectable()
@WsCommand('calibration.cancel')
export class CalibrationCancelHandler implements WsCommandHandler<'calibration.cancel'> {
  constructor(@Inject(CalibrationService) private readonly calibration: CalibrationService) {}
  async handle({ userId }: CommandOf<'calibration.cancel'>) {
    if (!(await this.calibration.cancel(userId))) throw new CodedError('not_found', `user "${userId}" is not calibrating`);
    return { userId, cancelled: true };
  }
}

@Injectable()
@WsCommand('finetune.start')
export class FinetuneStartHandler implements WsCommandHandler<'finetune.start'> {
  constructor(@Inject(FinetuneJobs) private readonly jobs: FinetuneJobs) {}
  async handle({ userId, epochs }: CommandOf<'finetune.start'>, ctx: CommandContext) {
    return { ...(await this.jobs.start(userId, { epochs, originId: ctx.connection.id })) };
  }
}

@Injectable()
@WsCommand('model.activate')
export class ModelActivateHandler implements WsCommandHandler<'model.activate'> {
  constructor(@Inject(ModelRegistry) private readonly registry: ModelRegistry) {}
  async handle({ userId, version }: CommandOf<'model.activate'>) {
    await this.registry.activate(userId, version); // a RegistryError is a CodedError: not_found reaches the client as is
    return { userId, version };
  }
}

@Injectable()
@WsCommand('face.enrol')
export class FaceEnrolHandler implements WsCommandHandler<'face.enrol'> {
  constructor(@Inject(FacesService) private readonly faces: FacesService) {}
  async handle({ userId, image, x, y }: CommandOf<'face.enrol'>) {
    if ((x === undefined) !== (y === undefined)) throw new CodedError('bad_message', 'give both x and y, or neither');
    const bytes = Buffer.from(image, 'base64');
    if (bytes.length === 0) throw new CodedError('bad_message', '`image` is not base64');
    const hint = x !== undefined && y !== undefined ? { x, y } : undefined;
    return { face: await this.faces.enrolPhoto(userId, bytes, hint) };
  }
}

export const PERSONALIZATION_HANDLERS = [
  UserCreateHandler,
  UserListHandler,
  UserRenameHandler,
  UserDeleteHandler,
  CameraBindHandler,
  TrackAssignHandler,
  CalibrationStartHandler,
  CalibrationCancelHandler,
  FinetuneStartHandler,
  ModelActivateHandler,
  FaceEnrolHandler,
];
