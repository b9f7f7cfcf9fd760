import { Inject, Injectable, Optional } from '@nestjs/common';
import type { CameraInput, CameraView } from '../contracts/cameras';
import { CodedError } from '../contracts/errors';
import { EventBus } from '../events/event-bus';
import { CAMERA_API, CameraApi, PIPELINE_CONTROL, PipelineControl, USER_DIRECTORY, UserDirectoryApi } from './delivery.tokens';
import { scrubSecrets } from './error-mapping';
import { CommandForwarder } from './command-forwarder';

/** A view with credentials scrubbed from every text field, whatever the source forgot. */
function safeView(v: CameraView): CameraView {
  const out: CameraView = { ...v, url: scrubSecrets(v.url), name: scrubSecrets(v.name) };
  if (v.reason !== undefined) out.reason = scrubSecrets(v.reason);
  return out;
}

/** Camera operations shared by the WS commands and the REST controller, so both answer the same way. */
@Injectable()
export class CameraAccess {
  constructor(
    @Inject(CAMERA_API) private readonly cameras: CameraApi,
    @Inject(EventBus) private readonly bus: EventBus,
    @Inject(PIPELINE_CONTROL) private readonly pipeline: PipelineControl,
    @Inject(USER_DIRECTORY) private readonly users: UserDirectoryApi,
    @Optional() @Inject(CommandForwarder) private readonly forwarder: CommandForwarder | null = null,
  ) {}

  /** A `userId` must name an existing user (404 `not_found` otherwise, nothing stored), as for camera.bind. */
  async add(input: CameraInput): Promise<CameraView> {
    if (typeof input?.userId === 'string') this.users.requireUser(input.userId);
    return safeView(await this.cameras.add(input));
  }

  async list(): Promise<CameraView[]> {
    return (await this.cameras.list()).map(safeView);
  }

  async get(id: string): Promise<CameraView> {
    const view = await this.cameras.get(id);
    if (!view) throw new CodedError('not_found', `no camera "${id}"`);
    return safeView(view);
  }

  async remove(id: string): Promise<void> {
    await this.get(id);
    await this.cameras.remove(id);
    // Close the camera's tracks (face.leave for each) before saying it is gone.
    this.pipeline.forgetCamera(id);
    this.bus.publish('camera.removed', { type: 'camera.removed', cameraId: id });
  }

  async retry(id: string): Promise<CameraView> {
    await this.get(id);
    await this.cameras.retry(id);
    return this.get(id);
  }

  /**
   * REST's retry: in a cluster, on the node that runs the camera (as the WS command is routed by the CommandRouter).
   * Only the edge that received the request forwards; the owner runs camera.retry locally.
   */
  async retryWhereRunning(id: string): Promise<CameraView> {
    const message = { type: 'camera.retry' as const, id: 'rest', cameraId: id };
    const owner = this.forwarder?.targetOf(message) ?? null;
    if (!owner) return this.retry(id);
    const ack = (await this.forwarder!.forward(owner, message, 'rest')) as { camera?: CameraView };
    if (!ack.camera) throw new CodedError('internal', `node ${owner} answered camera.retry without the camera`);
    return safeView(ack.camera);
  }
}
