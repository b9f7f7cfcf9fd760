import { CameraRecord, CameraRepository } from '../ports/camera.repository';
import { FaceGallery, FaceRecord } from '../ports/face-gallery.repository';
import { ModelRecord, ModelRepository } from '../ports/model.repository';
import { SampleRecord, SampleRepository } from '../ports/sample.repository';
import { TokenRecord, TokenRepository } from '../ports/token.repository';
import { UserRecord, UserRepository } from '../ports/user.repository';
import { WebhookDeliveryRecord, WebhookRecord, WebhookRepository } from '../ports/webhook.repository';
import type { StateReplicator } from './state-replicator';

/*
 * The repositories of a clustered node: each decorates the node's SQLite repository. Reads are local (the replicator
 * keeps the tables in step with the cluster); each write runs through StateReplicator.write, which applies it locally,
 * then puts every row it changed to the cluster (the edge waits for that before answering).
 */

export class ReplicatedCameraRepository extends CameraRepository {
  constructor(
    private readonly inner: CameraRepository,
    private readonly rep: StateReplicator,
  ) {
    super();
  }
  insert(c: CameraRecord): void {
    this.rep.write(() => this.inner.insert(c));
  }
  get(id: string): CameraRecord | undefined {
    return this.inner.get(id);
  }
  list(): CameraRecord[] {
    return this.inner.list();
  }
  delete(id: string): boolean {
    return this.rep.write(() => this.inner.delete(id));
  }
  setUser(id: string, userId: string | null): boolean {
    return this.rep.write(() => this.inner.setUser(id, userId));
  }
}

export class ReplicatedUserRepository extends UserRepository {
  constructor(
    private readonly inner: UserRepository,
    private readonly rep: StateReplicator,
  ) {
    super();
  }
  insert(u: Omit<UserRecord, 'activeVersion'>): void {
    this.rep.write(() => this.inner.insert(u));
  }
  get(id: string): UserRecord | undefined {
    return this.inner.get(id);
  }
  list(): UserRecord[] {
    return this.inner.list();
  }
  rename(id: string, name: string): boolean {
    return this.rep.write(() => this.inner.rename(id, name));
  }
  /** The user's samples, models and faces go with it (cascades, each replicated as its own delete). */
  delete(id: string): boolean {
    return this.rep.write(() => this.inner.delete(id));
  }
}

export class ReplicatedSampleRepository extends SampleRepository {
  constructor(
    private readonly inner: SampleRepository,
    private readonly rep: StateReplicator,
  ) {
    super();
  }
  insert(s: SampleRecord): void {
    this.rep.write(() => this.inner.insert(s));
  }
  listByUser(userId: string): SampleRecord[] {
    return this.inner.listByUser(userId);
  }
  countsByUser(userId: string): Record<string, number> {
    return this.inner.countsByUser(userId);
  }
  hasSha1(userId: string, sha1: string): boolean {
    return this.inner.hasSha1(userId, sha1);
  }
  delete(id: string): boolean {
    return this.rep.write(() => this.inner.delete(id));
  }
}

export class ReplicatedModelRepository extends ModelRepository {
  constructor(
    private readonly inner: ModelRepository,
    private readonly rep: StateReplicator,
  ) {
    super();
  }
  nextVersion(userId: string): number {
    return this.inner.nextVersion(userId);
  }
  /** The version row and (when activating) the user's row: two keys, two puts. */
  insert(m: ModelRecord, activate: boolean): void {
    this.rep.write(() => this.inner.insert(m, activate));
  }
  get(userId: string, version: number): ModelRecord | undefined {
    return this.inner.get(userId, version);
  }
  list(userId: string): ModelRecord[] {
    return this.inner.list(userId);
  }
  allFiles(): Set<string> {
    return this.inner.allFiles();
  }
  activeVersion(userId: string): number | null | undefined {
    return this.inner.activeVersion(userId);
  }
  setActive(userId: string, version: number | null): boolean {
    return this.rep.write(() => this.inner.setActive(userId, version));
  }
}

export class ReplicatedTokenRepository extends TokenRepository {
  constructor(
    private readonly inner: TokenRepository,
    private readonly rep: StateReplicator,
  ) {
    super();
  }
  insert(t: TokenRecord): void {
    this.rep.write(() => this.inner.insert(t));
  }
  list(): Omit<TokenRecord, 'hash'>[] {
    return this.inner.list();
  }
  deleteByIdOrName(idOrName: string): number {
    return this.rep.write(() => this.inner.deleteByIdOrName(idOrName));
  }
  exists(id: string): boolean {
    return this.inner.exists(id);
  }
  count(): number {
    return this.inner.count();
  }
  findByHash(hash: string): TokenRecord | undefined {
    return this.inner.findByHash(hash);
  }
}

export class ReplicatedFaceGallery extends FaceGallery {
  constructor(
    private readonly inner: FaceGallery,
    private readonly rep: StateReplicator,
  ) {
    super();
  }
  insert(f: FaceRecord): void {
    this.rep.write(() => this.inner.insert(f));
  }
  get(id: string): FaceRecord | undefined {
    return this.inner.get(id);
  }
  listByUser(userId: string): FaceRecord[] {
    return this.inner.listByUser(userId);
  }
  listByModel(modelSha: string): FaceRecord[] {
    return this.inner.listByModel(modelSha);
  }
  countByUser(userId: string, modelSha?: string): number {
    return this.inner.countByUser(userId, modelSha);
  }
  allFiles(): Set<string> {
    return this.inner.allFiles();
  }
  delete(id: string): boolean {
    return this.rep.write(() => this.inner.delete(id));
  }
}

/** Rules are shared; each node's delivery log is its own (webhook_deliveries is not replicated). */
export class ReplicatedWebhookRepository extends WebhookRepository {
  constructor(
    private readonly inner: WebhookRepository,
    private readonly rep: StateReplicator,
  ) {
    super();
  }
  insert(r: WebhookRecord): void {
    this.rep.write(() => this.inner.insert(r));
  }
  get(id: string): WebhookRecord | undefined {
    return this.inner.get(id);
  }
  list(): WebhookRecord[] {
    return this.inner.list();
  }
  update(id: string, patch: Partial<Omit<WebhookRecord, 'id' | 'createdAt'>>): WebhookRecord | undefined {
    return this.rep.write(() => this.inner.update(id, patch));
  }
  delete(id: string): boolean {
    return this.rep.write(() => this.inner.delete(id));
  }
  saveDeliveries(deliveries: readonly WebhookDeliveryRecord[], keep: number): void {
    this.inner.saveDeliveries(deliveries, keep);
  }
  deliveries(webhookId: string, limit: number): WebhookDeliveryRecord[] {
    return this.inner.deliveries(webhookId, limit);
  }
}
