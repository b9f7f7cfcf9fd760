import { Logger } from '@nestjs/common';
import { CodedError, type ErrorCode } from '../../contracts/errors';
import type { FinetuneMetrics, ModelVersionView } from '../../contracts/personalization';
import type { HeadRunner } from '../../inference/head.resolver';
import { ModelRecord, ModelRepository } from '../../storage/ports/model.repository';
import { UserRepository } from '../../storage/ports/user.repository';
import { HEAD_BYTES, HeadWeights, headFromBytes, headToBytes } from '../../inference/heads/head-shape';
import type { LaidOutModel } from '../../inference/heads/head-layout';
import { exportPersonalModel, loadExpressionModel } from '../onnx/export-onnx';
import { HeadForward, HeadTensors, headTensors } from '../../inference/heads/head-forward';
import { ModelFileStore } from './model-files';
import { blendLogits, gateLogits } from '../finetune/blend';

export interface RegistryOptions {
  /** The general head: a version whose blend weight is under 1 scores faces with both heads (blend.ts). */
  general?: HeadWeights;
  /**
   * sha256 of the shipped trunk.onnx: new versions record it, and only versions recorded against it are applied
   * (others wait for their retrain: staleUsers(), TrunkRetrainer). Omitted: every version counts as this trunk's.
   */
  trunkSha256?: string;
  /**
   * The per-face gate (blend.ts gateLogits): a face the general head is at least this sure of keeps its scores.
   * Needs `general`. Omitted or >= 1: off.
   */
  gate?: number;
}

export type RegistryErrorCode = Extract<ErrorCode, 'not_found' | 'unavailable' | 'conflict'>;

/** A registry failure: a CodedError, so it reaches the edge (WS error, HTTP 404/503) as it is thrown. */
export class RegistryError extends CodedError {
  override readonly name = 'RegistryError';
  constructor(code: RegistryErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Version 0 in `model.activate` names the general model (personal versions start at 1). */
export const GENERAL_VERSION = 0;

interface LoadedHead {
  version: number;
  runner: HeadRunner;
}

/**
 * Per-user head versions: weight files (ModelFileStore) + rows (ModelRepository), and the loaded active heads.
 * Write order: file durable first, then the row (and the activation) in one transaction, so a version is listed only
 * when its file is whole and the active model is always either the old one or the complete new one.
 * headFor() is synchronous (a map look-up on the inference hot path); save/activate load the new head before the
 * map switches to it.
 */
export class ModelRegistry {
  private readonly logger = new Logger('ModelRegistry');
  private readonly loaded = new Map<string, LoadedHead>();
  private expression: Promise<LaidOutModel> | null = null;

  constructor(
    private readonly files: ModelFileStore,
    private readonly models: ModelRepository,
    private readonly users: UserRepository,
    private readonly forward: HeadForward,
    private readonly expressionOnnxPath: string,
    private readonly options: RegistryOptions = {},
  ) {}

  /** Users whose active version was trained on another trunk: served by the general head until retrained. */
  private readonly stale = new Set<string>();

  /** The shipped trunk's sha256 ('' when the registry was built without one: every version is current). */
  get trunkSha256(): string {
    return this.options.trunkSha256 ?? '';
  }

  /** Whether a version may run on the shipped trunk. */
  private current(record: ModelRecord): boolean {
    return this.options.trunkSha256 === undefined || record.trunkSha256 === this.options.trunkSha256;
  }

  /** Users found at init() whose active head was trained on another trunk and that no newer version has replaced. */
  staleUsers(): string[] {
    return [...this.stale];
  }

  /** Start-up: drop temp/orphaned files, load every user's active head (a broken file falls back to general). */
  async init(): Promise<void> {
    const removed = await this.files.sweep(this.models.allFiles());
    if (removed.length) this.logger.warn(`removed ${removed.length} unfinished model file(s): ${removed.join(', ')}`);
    for (const u of this.users.list()) {
      if (u.activeVersion === null) continue;
      const record = this.models.get(u.id, u.activeVersion);
      if (record && !this.current(record)) {
        // never applied to features of a trunk it was not trained on: general head until the retrain activates a new one
        this.stale.add(u.id);
        this.logger.warn(`user ${u.id}: active model v${u.activeVersion} was trained on trunk ${record.trunkSha256?.slice(0, 12) || '(unknown)'}, not the shipped ${this.trunkSha256.slice(0, 12)}: general head until it is retrained`);
        continue;
      }
      try {
        await this.load(u.id, u.activeVersion);
      } catch (e) {
        this.logger.error(`user ${u.id}: active model v${u.activeVersion} unusable, serving the general head: ${(e as Error).message}`);
      }
    }
  }

  /** Store a new version (durably) and, by default, make it active for live streams. */
  async save(userId: string, weights: HeadWeights, metrics: FinetuneMetrics, options: { activate?: boolean } = {}): Promise<ModelVersionView> {
    const activate = options.activate ?? true;
    if (!this.users.get(userId)) throw new RegistryError('not_found', `unknown user ${userId}`);
    const version = this.models.nextVersion(userId);
    const { file, sha256 } = await this.files.write(userId, version, headToBytes(weights));
    const record: ModelRecord = { userId, version, file, sha256, metrics, createdAt: Date.now(), trunkSha256: this.trunkSha256 };
    // the runner is ready before the row commits, so the switch below is a pointer swap
    const runner = activate ? this.runnerFor(weights, metrics.blend) : null;
    this.models.insert(record, activate);
    if (runner) {
      this.loaded.set(userId, { version, runner });
      this.stale.delete(userId);
    }
    return this.view(record, activate);
  }

  list(userId: string): ModelVersionView[] {
    const active = this.models.activeVersion(userId);
    if (active === undefined) throw new RegistryError('not_found', `unknown user ${userId}`);
    return this.models.list(userId).map((r) => this.view(r, r.version === active));
  }

  activeVersion(userId: string): number | null {
    const v = this.models.activeVersion(userId);
    if (v === undefined) throw new RegistryError('not_found', `unknown user ${userId}`);
    return v;
  }

  /** Make `version` active (rollback or forward); GENERAL_VERSION (0) returns the user to the general head. */
  async activate(userId: string, version: number): Promise<void> {
    if (!this.users.get(userId)) throw new RegistryError('not_found', `unknown user ${userId}`);
    if (version === GENERAL_VERSION) {
      this.models.setActive(userId, null);
      this.loaded.delete(userId);
      this.stale.delete(userId);
      return;
    }
    const record = this.models.get(userId, version);
    if (!record) throw new RegistryError('not_found', `user ${userId} has no model version ${version}`);
    if (!this.current(record)) {
      throw new RegistryError('conflict', `model v${version} of ${userId} was trained on another trunk than the shipped one; fine-tune again (its samples are kept)`);
    }
    const runner = this.runnerFor(await this.readWeights(record), record.metrics.blend);
    if (!this.models.setActive(userId, version)) throw new RegistryError('not_found', `user ${userId} has no model version ${version}`);
    this.loaded.set(userId, { version, runner });
    this.stale.delete(userId);
  }

  /**
   * Another node changed this user's versions or active version (clustered: ReplicatedChanges, as the rows arrive):
   * serve the head the rows now name — load it (its file comes from the cluster's object store), or drop it for the
   * general head. A version trained on another trunk is not applied, as at init().
   */
  async refresh(userId: string): Promise<void> {
    const active = this.models.activeVersion(userId);
    if (active === undefined || active === null) {
      this.loaded.delete(userId);
      this.stale.delete(userId);
      return;
    }
    if (this.loaded.get(userId)?.version === active) return;
    const record = this.models.get(userId, active);
    if (!record) return; // the version's row is still on its way: its arrival calls again
    if (!this.current(record)) {
      this.loaded.delete(userId);
      this.stale.add(userId);
      return;
    }
    const runner = this.runnerFor(await this.readWeights(record), record.metrics.blend);
    if (this.models.activeVersion(userId) !== active) return; // changed again meanwhile: that change refreshes
    this.loaded.set(userId, { version: active, runner });
    this.stale.delete(userId);
  }

  /** The user's active personal head, or null (general). Synchronous: for HeadResolver.resolve on the hot path. */
  headFor(userId: string): HeadRunner | null {
    return this.loaded.get(userId)?.runner ?? null;
  }

  async weights(userId: string, version: number): Promise<HeadWeights> {
    const record = this.models.get(userId, version);
    if (!record) throw new RegistryError('not_found', `user ${userId} has no model version ${version}`);
    return this.readWeights(record);
  }

  /** One ONNX file (trunk + this version's head) that runs anywhere ONNX runs. */
  async exportOnnx(userId: string, version: number): Promise<Uint8Array> {
    const weights = await this.weights(userId, version);
    this.expression ??= loadExpressionModel(this.expressionOnnxPath);
    try {
      return exportPersonalModel(await this.expression, weights);
    } catch (e) {
      this.expression = null;
      throw new RegistryError('unavailable', `cannot export: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Forget a deleted user's heads and files (the rows go with the user's row, ON DELETE CASCADE). */
  async removeUser(userId: string): Promise<void> {
    this.loaded.delete(userId);
    this.stale.delete(userId);
    await this.files.removeUser(userId);
  }

  private async load(userId: string, version: number): Promise<void> {
    const record = this.models.get(userId, version);
    if (!record) throw new RegistryError('not_found', `no model version ${version}`);
    this.loaded.set(userId, { version, runner: this.runnerFor(await this.readWeights(record), record.metrics.blend) });
  }

  private async readWeights(record: ModelRecord): Promise<HeadWeights> {
    try {
      return headFromBytes(await this.files.read(record.file, record.sha256, HEAD_BYTES));
    } catch (e) {
      throw new RegistryError('unavailable', `model v${record.version} of ${record.userId}: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * The head a user's faces are scored with: the personal head, blended with the general one when the version's
   * blend weight is under 1 (log of w·softmax(personal) + (1−w)·softmax(general): the pipeline's softmax then gives
   * the blended probabilities), and gated per face when the registry has a gate (a face the general head is at least
   * `gate` sure of keeps the general scores). Versions without a weight (stored before the blend) are the personal
   * head alone before the gate.
   */
  private runnerFor(weights: HeadWeights, blend: number | undefined): HeadRunner {
    const tensors: HeadTensors = headTensors(weights);
    const forward = this.forward;
    const w = blend ?? 1;
    const gate = this.options.gate ?? 1;
    if (w >= 1 && gate >= 1) return { run: (features: Float32Array, n: number) => forward.run(tensors, features, n) };
    if (!this.options.general) throw new RegistryError('unavailable', `a blended or gated model (w = ${w}, gate ${gate}) needs the general head, and the registry has none`);
    this.generalTensors ??= headTensors(this.options.general);
    const general = this.generalTensors;
    return {
      run: async (features: Float32Array, n: number) => {
        const [g, p] = await Promise.all([forward.run(general, features, n), forward.run(tensors, features, n)]);
        return gateLogits(g, blendLogits(g, p, n, w), n, gate);
      },
    };
  }

  private generalTensors: HeadTensors | null = null;

  private view(r: ModelRecord, active: boolean): ModelVersionView {
    return { userId: r.userId, version: r.version, createdAt: r.createdAt, active, metrics: r.metrics };
  }
}
