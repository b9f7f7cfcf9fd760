import { DynamicModule, Module, ModuleMetadata, Provider } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { InferenceModule } from '../inference/inference.module';
import { PipelineMetrics } from './pipeline.metrics';
import { FRAME_SOURCE, PipelineService } from './pipeline.service';

export interface PipelineModuleOptions {
  /** Modules whose exports the providers below need (e.g. the ingest module for CameraService). */
  imports?: ModuleMetadata['imports'];
  /** Must provide FRAME_SOURCE; may provide HEAD_RESOLVER (else every face uses the general head). */
  providers: Provider[];
}

@Module({})
export class PipelineModule {
  static forRoot(options: PipelineModuleOptions): DynamicModule {
    return {
      module: PipelineModule,
      imports: [EventsModule, InferenceModule, ...(options.imports ?? [])],
      providers: [{ provide: PipelineMetrics, useFactory: () => new PipelineMetrics() }, PipelineService, ...options.providers],
      exports: [PipelineService, PipelineMetrics, InferenceModule],
    };
  }
}

export { FRAME_SOURCE };
