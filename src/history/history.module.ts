import { Module } from '@nestjs/common';
import { HistoryMetrics } from './history.metrics';
import { HistoryRecorder } from './history.recorder';
import { HistoryService } from './history.service';

/**
 * Expression history (docs/HISTORY.md): HistoryRecorder turns the EventBus's expression events into rows,
 * HistoryService answers queries and runs deletions and retention. Needs CONFIG, the EventBus and StorageModule's
 * HistoryRepository (all global). The routes are delivery's HistoryController.
 */
@Module({
  providers: [{ provide: HistoryMetrics, useFactory: () => new HistoryMetrics() }, HistoryRecorder, HistoryService],
  exports: [HistoryService, HistoryMetrics, HistoryRecorder],
})
export class HistoryModule {}
