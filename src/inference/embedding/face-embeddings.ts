import { Inject, Injectable, Logger, Module, OnApplicationShutdown, Optional } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG, Config } from '../../config';
import { InferenceModule, LIVE_EMBEDDER } from '../inference.module';
import { OrtModule } from '../ort.module';
import { OrtSessionFactory } from '../ort.sessions';
import { alignFaceViews, FivePoints, PackedImage } from './face-align';
import { FaceEmbedder, faceEmbeddingPath } from './face-embedder';
import type { ViewEmbedder } from './identify-faces';

/** One face to embed: a packed 3-channel image and YuNet's 5 landmarks in that image's pixels. */
export interface FaceToEmbed {
  image: PackedImage;
  /** Frames from ingest and decoded photos (photo-faces.ts) are BGR. */
  order: 'bgr' | 'rgb';
  landmarks: FivePoints;
}

export interface EmbeddedFace {
  /** The aligned 150x150 RGB template crop (packed; the scale-1 view the embedding was made from): stored so it can be
   * recomputed (the zoomed views are re-cut from it) when the model changes. */
  aligned: Uint8Array;
  /** L2-normalised, 128 values. */
  embedding: Float32Array;
}

/**
 * Port (and Nest token) for making face embeddings exactly the way the live matcher makes its probes, which is what the
 * matcher's threshold was calibrated on (docs/IDENTITY.md): align to the dlib chip template from YuNet's 5 landmarks at
 * every zoom of VIEW_SCALES (alignFaceViews), embed each view with the test-time flip and average them
 * (FaceEmbedder.embedFaces). `modelSha` names the model, so stored embeddings of another model are never compared with
 * new ones.
 */
export abstract class FaceEmbeddings {
  /** sha256 of the embedding model file (models/manifest.json `faceEmbedding`). */
  abstract readonly modelSha: string;
  /** Each face's aligned 150x150 RGB views (alignFaceViews) → one embedding per face, same order. */
  abstract embedViews(faces: readonly (readonly Uint8Array[])[]): Promise<Float32Array[]>;
  /** Align each face (every view), then embed them in one batch. */
  async embedFaces(faces: readonly FaceToEmbed[]): Promise<EmbeddedFace[]> {
    const views = faces.map((f) => alignFaceViews(f.image, f.order, f.landmarks).crops);
    const embeddings = await this.embedViews(views);
    return views.map((v, i) => ({ aligned: v[0], embedding: embeddings[i] }));
  }
}

/** sha256 of the face-embedding model: the manifest's entry (checked against the file by the parity test), else the file's hash. */
export function faceEmbeddingSha(modelsDir: string): string {
  try {
    const manifest = JSON.parse(readFileSync(join(modelsDir, 'manifest.json'), 'utf8')) as { faceEmbedding?: { files?: Record<string, { sha256?: string }> } };
    const sha = manifest.faceEmbedding?.files?.['face-embedding.onnx']?.sha256;
    if (sha) return sha;
  } catch {
    // no manifest beside these models: hash the file itself
  }
  return createHash('sha256').update(readFileSync(faceEmbeddingPath(modelsDir))).digest('hex');
}

/**
 * FaceEmbeddings for enrolment: a photo upload, a browser frame or a WS `face.enrol` embeds one face, ~35 ms (3 views
 * x flip = 6 crops through the dlib ResNet, ~6 ms each, docs/IDENTITY.md) plus ~2 ms of alignment, once per request.
 * With live recognition on (IDENTITY=face) it uses live recognition's embedder (LIVE_EMBEDDER: the embedding worker
 * thread, or the main thread's with INFERENCE_WORKERS=0), so the server holds one embedding session and an upload
 * does not block the event loop. With IDENTITY=off (enrolment still works, recognition does not run) a session is
 * created on the main thread through the app's OrtSessionFactory on first use, so a server that never enrols does not
 * load the 22 MB model: enrolment is an occasional admin action, not a per-frame path.
 */
@Injectable()
export class LocalFaceEmbeddings extends FaceEmbeddings implements OnApplicationShutdown {
  private readonly logger = new Logger('FaceEmbeddings');
  private embedder: Promise<FaceEmbedder> | null = null;
  private sha: string | null = null;

  constructor(
    @Inject(OrtSessionFactory) private readonly factory: OrtSessionFactory,
    @Inject(CONFIG) private readonly config: Pick<Config, 'modelsDir'>,
    @Optional() @Inject(LIVE_EMBEDDER) private readonly live: ViewEmbedder | null = null,
  ) {
    super();
  }

  get modelSha(): string {
    this.sha ??= faceEmbeddingSha(this.config.modelsDir);
    return this.sha;
  }

  async embedViews(faces: readonly (readonly Uint8Array[])[]): Promise<Float32Array[]> {
    if (faces.length === 0) return [];
    if (this.live) return this.live.embedFaces(faces);
    if (!this.embedder) {
      const path = faceEmbeddingPath(this.config.modelsDir);
      this.embedder = FaceEmbedder.create(this.factory, path);
      this.embedder.then(
        () => this.logger.log(`face embedder loaded: ${path}`),
        () => (this.embedder = null), // a later request tries again (and fails the same typed way if it must)
      );
    }
    return (await this.embedder).embedFaces(faces);
  }

  async onApplicationShutdown(): Promise<void> {
    const e = this.embedder;
    this.embedder = null;
    if (e) await e.then((x) => x.release(), () => undefined);
  }
}

/** Provides FaceEmbeddings (LocalFaceEmbeddings: live recognition's embedder, else its own on the app's OrtSessionFactory). */
@Module({
  imports: [OrtModule, InferenceModule],
  providers: [{ provide: FaceEmbeddings, useClass: LocalFaceEmbeddings }],
  exports: [FaceEmbeddings],
})
export class FaceEmbeddingsModule {}
