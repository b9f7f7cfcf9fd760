import { Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG, Config } from '../../config';
import { OrtModule } from '../ort.module';
import { OrtSessionFactory } from '../ort.sessions';
import { alignFace, FivePoints, PackedImage } from './face-align';
import { FaceEmbedder, faceEmbeddingPath } from './face-embedder';

/** One face to embed: a packed 3-channel image and YuNet's 5 landmarks in that image's pixels. */
export interface FaceToEmbed {
  image: PackedImage;
  /** Frames from ingest and decoded photos (photo-faces.ts) are BGR. */
  order: 'bgr' | 'rgb';
  landmarks: FivePoints;
}

export interface EmbeddedFace {
  /** The aligned 150x150 RGB crop (packed), the input the embedding was made from: stored so it can be recomputed. */
  aligned: Uint8Array;
  /** L2-normalised, 128 values. */
  embedding: Float32Array;
}

/**
 * Port (and Nest token) for making face embeddings the way the gallery and the live matcher compare them: align to the
 * dlib chip template from the 5 landmarks (face-align.ts), embed with the test-time flip (face-embedder.ts). `modelSha`
 * names the model, so stored embeddings of another model are never compared with new ones.
 */
export abstract class FaceEmbeddings {
  /** sha256 of the embedding model file (models/manifest.json `faceEmbedding`). */
  abstract readonly modelSha: string;
  /** Aligned 150x150 RGB crops → embeddings, same order. */
  abstract embedAligned(crops: readonly Uint8Array[]): Promise<Float32Array[]>;
  /** Align each face, then embed the crops in one batch. */
  async embedFaces(faces: readonly FaceToEmbed[]): Promise<EmbeddedFace[]> {
    const aligned = faces.map((f) => alignFace(f.image, f.order, f.landmarks).crop);
    const embeddings = await this.embedAligned(aligned);
    return aligned.map((a, i) => ({ aligned: a, embedding: embeddings[i] }));
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
 * FaceEmbeddings on the main thread, for enrolment: a photo upload, a browser frame or a WS `face.enrol` embeds one
 * face, ~12 ms (flip: two crops through the dlib ResNet, ~6 ms each on 2 cores, docs/IDENTITY.md) plus ~1 ms of
 * alignment, once per request: enrolment is an occasional admin action, not a per-frame path, so it does not need the
 * worker pool (the live path embeds in the inference workers). The session is created through the app's
 * OrtSessionFactory on first use, so a server that never enrols does not load the 22 MB model.
 */
@Injectable()
export class LocalFaceEmbeddings extends FaceEmbeddings implements OnApplicationShutdown {
  private readonly logger = new Logger('FaceEmbeddings');
  private embedder: Promise<FaceEmbedder> | null = null;
  private sha: string | null = null;

  constructor(
    @Inject(OrtSessionFactory) private readonly factory: OrtSessionFactory,
    @Inject(CONFIG) private readonly config: Pick<Config, 'modelsDir'>,
  ) {
    super();
  }

  get modelSha(): string {
    this.sha ??= faceEmbeddingSha(this.config.modelsDir);
    return this.sha;
  }

  async embedAligned(crops: readonly Uint8Array[]): Promise<Float32Array[]> {
    if (crops.length === 0) return [];
    if (!this.embedder) {
      const path = faceEmbeddingPath(this.config.modelsDir);
      this.embedder = FaceEmbedder.create(this.factory, path);
      this.embedder.then(
        () => this.logger.log(`face embedder loaded: ${path}`),
        () => (this.embedder = null), // a later request tries again (and fails the same typed way if it must)
      );
    }
    return (await this.embedder).embed(crops);
  }

  async onApplicationShutdown(): Promise<void> {
    const e = this.embedder;
    this.embedder = null;
    if (e) await e.then((x) => x.release(), () => undefined);
  }
}

/** Provides FaceEmbeddings (LocalFaceEmbeddings on the app's OrtSessionFactory). */
@Module({
  imports: [OrtModule],
  providers: [{ provide: FaceEmbeddings, useClass: LocalFaceEmbeddings }],
  exports: [FaceEmbeddings],
})
export class FaceEmbeddingsModule {}
