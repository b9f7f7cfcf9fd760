import { Global, Module } from '@nestjs/common';
import { EventBus } from './event-bus';
import { RxEventBus } from './rx-event-bus';

/**
 * The app's one EventBus (in process). Global, so any module's service can `@Inject(EventBus)` without importing
 * the module that publishes or subscribes: that is what lets services talk without importing each other.
 * A networked transport (NATS) would be bound here instead of RxEventBus.
 */
@Global()
@Module({
  providers: [{ provide: EventBus, useClass: RxEventBus }],
  exports: [EventBus],
})
export class EventsModule {}
