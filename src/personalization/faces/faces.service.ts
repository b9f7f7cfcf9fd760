import { Inject, Injectable } from '@nestjs/common';
import { CodedError } from '../../contracts/errors';
import type { FaceView } from '../../contracts/personalization';
import { EmbeddedFace, FaceEmbeddings } from '../../inference/embedding/face-embeddings';
import type { FaceRecord, FaceSource } from '../../storage/ports/face-gallery.repository';
import { UserRepository } from '../../storage/ports/user.repository';
import type { FaceHint, PhotoFace } from '../samples/photo-faces';
import { PhotoFaces } from '../samples/photo-faces';
import { FaceStore } from './face.store';

/**
 * Enrolment: a face → its aligned crop and embedding in the gallery (FaceStore), from a photo (REST
 * `POST /api/users/:id/faces`, WS `face.enrol`) or from the detection a labelled sample already made (SamplesService
 * passes PhotoFace.detected: the photo is decoded and detected once). Typed errors before anything is stored: unknown
 * user (not_found), not an image (unsupported_image), no face (no_face), several faces without a hint (several_faces).
 */
@Injectable()
export class FacesService {
  constructor(
    @Inject(UserRepository) private readonly users: UserRepository,
    @Inject(PhotoFaces) private readonly photos: PhotoFaces,
    @Inject(FaceEmbeddings) private readonly embeddings: FaceEmbeddings,
    @Inject(FaceStore) private readonly faces: FaceStore,
  ) {}

  /** A photo with one face (or a hint naming one) → an enrolled face, no expression sample. */
  async enrolPhoto(userId: string, image: Buffer, hint?: FaceHint): Promise<FaceView> {
    this.require(userId);
    const face = await this.photos.face(image, hint);
    return this.view(await this.addDetected(userId, face.detected, 'enrol', null));
  }

  /** Embeds an already detected face and stores it. The caller checked the user; a user deleted meanwhile throws. */
  async addDetected(userId: string, detected: PhotoFace['detected'], source: FaceSource, sampleId: string | null): Promise<FaceRecord> {
    return this.store(userId, await this.embed(detected), source, sampleId);
  }

  /** Aligns and embeds a detected face (nothing stored): a sample embeds first, so a failure stores neither. */
  async embed(detected: PhotoFace['detected']): Promise<EmbeddedFace> {
    const [embedded] = await this.embeddings.embedFaces([{ image: detected.image, order: 'bgr', landmarks: detected.landmarks }]);
    return embedded;
  }

  store(userId: string, embedded: EmbeddedFace, source: FaceSource, sampleId: string | null): Promise<FaceRecord> {
    return this.faces.add({ userId, aligned: embedded.aligned, embedding: embedded.embedding, modelSha: this.embeddings.modelSha, source, sampleId });
  }

  list(userId: string): FaceView[] {
    this.require(userId);
    return this.faces.list(userId).map((f) => this.view(f));
  }

  async remove(userId: string, faceId: string): Promise<void> {
    this.require(userId);
    if (!(await this.faces.remove(userId, faceId))) throw new CodedError('not_found', `user "${userId}" has no face "${faceId}"`);
  }

  private require(userId: string): void {
    if (!this.users.get(userId)) throw new CodedError('not_found', `no user "${userId}"`);
  }

  private view(f: FaceRecord): FaceView {
    return { id: f.id, userId: f.userId, source: f.source, sampleId: f.sampleId, current: f.modelSha === this.embeddings.modelSha, createdAt: f.createdAt };
  }
}
