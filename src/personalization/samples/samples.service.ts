import { Inject, Injectable } from '@nestjs/common';
import type { LabelName } from '../../contracts/labels';
import { FacesService } from '../faces/faces.service';
import { UsersService } from '../users/users.service';
import { FaceHint, PhotoFaces } from './photo-faces';
import { SampleSource, SampleStore } from './sample.store';

export interface StoredSample {
  id: string;
  userId: string;
  label: LabelName;
  source: SampleSource;
  /** The face that was used, in the image's pixels. */
  box: { x: number; y: number; w: number; h: number };
  /** The user's samples per label after this one. */
  counts: Partial<Record<LabelName, number>>;
}

/** Labelled photos (REST upload, or a labelled frame pushed by a browser) -> a stored sample of the face in them. */
@Injectable()
export class SamplesService {
  constructor(
    @Inject(UsersService) private readonly users: UsersService,
    @Inject(PhotoFaces) private readonly photos: PhotoFaces,
    @Inject(SampleStore) private readonly store: SampleStore,
    @Inject(FacesService) private readonly faces: FacesService,
  ) {}

  /**
   * Checks everything before storing anything: unknown user, bad image, no face or several all store nothing. The face
   * is also enrolled (its aligned crop and embedding, docs/IDENTITY.md "Enrolment"), from the same detection: embedded
   * first, then the sample, then the face row pointing at it.
   */
  async addPhoto(userId: string, label: LabelName, image: Buffer, options: { hint?: FaceHint; source?: SampleSource } = {}): Promise<StoredSample> {
    this.users.require(userId);
    const face = await this.photos.face(image, options.hint);
    const embedded = await this.faces.embed(face.detected);
    const source = options.source ?? 'upload';
    const record = await this.store.add(userId, label, face.crop48, source);
    await this.faces.store(userId, embedded, 'sample', record.id);
    return { id: record.id, userId, label, source, box: face.box, counts: this.users.get(userId).samples };
  }
}
