import { Module } from '@nestjs/common';
import { OrtSessionFactory } from './ort.sessions';

/**
 * The one OrtSessionFactory of the application (EXECUTION_PROVIDER, ORT_THREADS, ORT_SPIN from CONFIG). Rooms that
 * load a model without the rest of InferenceModule (the personal heads) import this, so they get the same factory
 * without starting the detector, the trunk or the inference pool.
 */
@Module({ providers: [OrtSessionFactory], exports: [OrtSessionFactory] })
export class OrtModule {}
