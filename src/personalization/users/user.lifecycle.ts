import { Inject, Injectable } from '@nestjs/common';
import { CalibrationService } from '../calibration/calibration.service';
import { FaceStore } from '../faces/face.store';
import { FinetuneJobs } from './finetune.jobs';
import { UsersService } from './users.service';

/** Deleting a user stops what runs for them first (calibration, fine-tune), then removes rows and files: samples, models
 * and enrolled faces (rows cascade with the user's; the face crops go here, so nothing of a deleted person remains). */
@Injectable()
export class UserLifecycle {
  constructor(
    @Inject(UsersService) private readonly users: UsersService,
    @Inject(CalibrationService) private readonly calibration: CalibrationService,
    @Inject(FinetuneJobs) private readonly jobs: FinetuneJobs,
    @Inject(FaceStore) private readonly faces: FaceStore,
  ) {}

  async delete(userId: string): Promise<void> {
    this.users.require(userId);
    await this.calibration.cancel(userId);
    if (this.jobs.cancel(userId)) await this.jobs.settled(userId);
    await this.users.delete(userId);
    await this.faces.removeUser(userId);
  }
}
