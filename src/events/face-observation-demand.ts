import { Injectable } from '@nestjs/common';

/**
 * Node-local: which cameras' `face.observed` events should also carry each face's enrolment (aligned colour crop +
 * embedding, made off the event loop). A calibration session asks for its camera while it still needs samples,
 * so the pipeline embeds only those faces, only then (embedding costs ~7 frames' worth of CPU per face). The pipeline
 * asks `enrols(cameraId)` when it plans a batch. Global through EventsModule, beside the EventBus it complements.
 */
@Injectable()
export class FaceObservationDemand {
  private readonly wants = new Map<string, Set<() => boolean>>();

  /** Until the returned function is called, faces of `cameraId` are enrolled whenever `active()` is true. */
  want(cameraId: string, active: () => boolean = () => true): () => void {
    let set = this.wants.get(cameraId);
    if (!set) this.wants.set(cameraId, (set = new Set()));
    set.add(active);
    return () => {
      set.delete(active);
      if (set.size === 0 && this.wants.get(cameraId) === set) this.wants.delete(cameraId);
    };
  }

  enrols(cameraId: string): boolean {
    const set = this.wants.get(cameraId);
    if (!set) return false;
    for (const active of set) if (active()) return true;
    return false;
  }
}
