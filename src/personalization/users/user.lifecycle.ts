import { Inject, Injectable } from '@nestjs/common';
import { CalibrationService } from '../calibration/calibration.service';
import { FinetuneJobs } from './finetune.jobs';
import { UsersService } from './users.service';

/** Deleting a user stops what runs for them first (calibration, fine-tune), then removes rows and files. */
@Injectable()
export class UserLifecycle {
  constructor(
    @Inject(UsersService) private readonly users: UsersService,
    @Inject(CalibrationService) private readonly calibration: CalibrationService,
    @Inject(FinetuneJobs) private readonly jobs: FinetuneJobs,
  ) {}

  async delete(userId: string): Promise<void> {
    this.users.require(userId);
    await this.calibration.cancel(userId);
    if (this.jobs.cancel(userId)) await this.jobs.settled(userId);
    await this.users.delete(userId);
  }
}
