import { Global, Module } from '@nestjs/common';
import { EventBus } from './event-bus';
import { FaceObservationDemand } from './face-observation-demand';
import { RxEventBus } from './rx-event-bus';

/**
 * Token of a networked EventBus (the cluster's NatsEventBus, provided by ClusterModule when NATS_URL is set). When
 * present it is the app's EventBus; else the in-process RxEventBus is.
 */
export const CLUSTER_EVENT_BUS = Symbol('CLUSTER_EVENT_BUS');

/**
 * The app's one EventBus. Global, so any module's service can `@Inject(EventBus)` without importing the module that
 * publishes or subscribes: that is what lets services talk without importing each other. In process (RxEventBus) on
 * a single node; in a cluster the NatsEventBus that ClusterModule provides (local delivery stays synchronous).
 */
@Global()
@Module({
  providers: [
    {
      provide: EventBus,
      inject: [{ token: CLUSTER_EVENT_BUS, optional: true }],
      useFactory: (networked: EventBus | undefined) => networked ?? new RxEventBus(),
    },
    FaceObservationDemand,
  ],
  exports: [EventBus, FaceObservationDemand],
})
export class EventsModule {}
