import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { CameraEvents } from './camera-events';
import { CameraService } from './camera.service';
import { CLOCK, systemClock } from './clock';
import { HOST_RESOLVER, systemResolver } from './destination-policy';
import { FfmpegLocator } from './ffmpeg.locator';
import { FileProbe } from './file.probe';
import { NodeProcessSpawner, ProcessSpawner } from './process.spawner';

/**
 * Cameras in, Frames out. Needs CONFIG (ConfigModule) and CameraRepository (StorageModule), both global.
 * Exports CameraService (frames$, status$, add/remove/list/retry, browser cameras) and the locator; publishes
 * every camera state change on the EventBus as `camera.status` (CameraEvents).
 */
@Module({
  imports: [EventsModule],
  providers: [
    CameraService,
    // status$ -> the bus's camera.status
    CameraEvents,
    FfmpegLocator,
    FileProbe,
    { provide: ProcessSpawner, useClass: NodeProcessSpawner },
    { provide: CLOCK, useValue: systemClock },
    // The camera destination policy's DNS look-up; tests override it (no DNS needed).
    { provide: HOST_RESOLVER, useValue: systemResolver },
  ],
  exports: [CameraService, FfmpegLocator],
})
export class IngestModule {}
