import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { CodedError } from '../../contracts/errors';
import type { LabelName } from '../../contracts/labels';
import type { UserView } from '../../contracts/personalization';
import { EventBus } from '../../events/event-bus';
import { FaceEmbeddings } from '../../inference/embedding/face-embeddings';
import { FaceGallery } from '../../storage/ports/face-gallery.repository';
import { SampleRepository } from '../../storage/ports/sample.repository';
import { UserRecord, UserRepository } from '../../storage/ports/user.repository';
import { IdentityResolver } from '../identity/identity.resolver';
import { ModelRegistry } from '../registry/model.registry';
import { SampleStore } from '../samples/sample.store';

/** Users: create, list, rename, delete. Shared by the WS handlers and the REST controller so both answer alike. */
@Injectable()
export class UsersService {
  constructor(
    @Inject(UserRepository) private readonly users: UserRepository,
    @Inject(SampleRepository) private readonly samples: SampleRepository,
    @Inject(SampleStore) private readonly store: SampleStore,
    @Inject(ModelRegistry) private readonly registry: ModelRegistry,
    @Inject(IdentityResolver) private readonly identity: IdentityResolver,
    @Inject(FaceGallery) private readonly gallery: FaceGallery,
    @Inject(FaceEmbeddings) private readonly embeddings: FaceEmbeddings,
    @Inject(EventBus) private readonly bus: EventBus,
  ) {}

  create(name: string): UserView {
    const id = `u${randomBytes(5).toString('hex')}`;
    this.users.insert({ id, name, createdAt: Date.now() });
    return this.view(this.users.get(id)!);
  }

  list(): UserView[] {
    return this.users.list().map((u) => this.view(u));
  }

  get(id: string): UserView {
    return this.view(this.require(id));
  }

  rename(id: string, name: string): UserView {
    if (!this.users.rename(id, name)) throw notFound(id);
    return this.get(id);
  }

  /**
   * Row first (samples and models rows go with it, ON DELETE CASCADE), then files. A crash in between leaves files
   * without rows, which the start-up sweeps of the sample and model stores remove. `user.deleted`, published once the
   * row is gone, tells the rooms that keep other data about the user (history) to forget it.
   */
  async delete(id: string): Promise<void> {
    this.require(id);
    this.identity.forgetUser(id);
    this.users.delete(id);
    this.bus.publish('user.deleted', { userId: id });
    await this.store.removeUser(id);
    await this.registry.removeUser(id);
  }

  require(id: string): UserRecord {
    const u = this.users.get(id);
    if (!u) throw notFound(id);
    return u;
  }

  private view(u: UserRecord): UserView {
    const samples = this.samples.countsByUser(u.id) as Partial<Record<LabelName, number>>;
    const faces = this.gallery.countByUser(u.id, this.embeddings.modelSha);
    // samples but no face of the current model: stored before enrolment existed (or under another model)
    return { id: u.id, name: u.name, activeVersion: u.activeVersion, samples, faces, reenrol: faces === 0 && Object.keys(samples).length > 0 };
  }
}

const notFound = (id: string) => new CodedError('not_found', `no user "${id}"`);
