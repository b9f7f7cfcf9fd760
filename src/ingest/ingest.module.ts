import { Module } from '@nestjs/common';
import { CameraService } from './camera.service';
import { CLOCK, systemClock } from './clock';
import { HOST_RESOLVER, systemResolver } from './destination-policy';
import { FfmpegLocator } from './ffmpeg.locator';
import { FileProbe } from './file.probe';
import { NodeProcessSpawner, ProcessSpawner } from './process.spawner';

/**
 * Cameras in, Frames out. Needs CONFIG (ConfigModule) and CameraRepository (StorageModule), both global.
 * Exports CameraService (frames$, status$, add/remove/list/retry, browser cameras) and the locator.
 */
@Module({
  providers: [
    CameraService,
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
