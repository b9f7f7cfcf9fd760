import { Inject, Injectable, Optional } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { defer, NEVER, Observable } from 'rxjs';
import type { PipelineEvent } from '../../contracts/events';
import type { FaceObservation } from '../../contracts/faces';
import { PipelineService } from '../../pipeline/pipeline.service';

/**
 * What personalization reads from the pipeline: face crops (calibration) and the per-frame events (which faces are
 * in view, which tracks left). The pipeline module imports this module (for HEAD_RESOLVER), so this module cannot
 * inject PipelineService directly; it looks it up once, on first subscription, anywhere in the app. Without a
 * pipeline (unit tests of other parts) both streams are silent. Tests replace this class with Subjects.
 */
@Injectable()
export class PipelinePort {
  constructor(@Optional() @Inject(ModuleRef) private readonly moduleRef?: ModuleRef) {}

  readonly faces$: Observable<FaceObservation> = defer(() => this.pipeline()?.faces$ ?? NEVER);
  readonly events$: Observable<PipelineEvent> = defer(() => this.pipeline()?.events$ ?? NEVER);

  private pipeline(): PipelineService | null {
    try {
      return this.moduleRef?.get(PipelineService, { strict: false }) ?? null;
    } catch {
      return null;
    }
  }
}
