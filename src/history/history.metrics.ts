import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** History's counters in a registry of their own (served at /metrics with the pipeline's). */
export class HistoryMetrics {
  readonly registry = new Registry();

  readonly rowsWritten = new Counter({ name: 'iexpr_history_rows_written_total', help: 'History rows committed', registers: [this.registry] });
  readonly rowsDropped = new Counter({
    name: 'iexpr_history_rows_dropped_total',
    help: 'History rows dropped, per reason (buffer_full: HISTORY_MAX_PENDING reached; write_failed: the transaction failed)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly pending = new Gauge({ name: 'iexpr_history_pending_rows', help: 'Rows waiting for the next write', registers: [this.registry] });
  readonly flushMs = new Histogram({
    name: 'iexpr_history_flush_ms',
    help: 'Wall time of one batched write (one transaction), ms',
    buckets: [0.5, 1, 2, 5, 10, 20, 50, 100, 250, 1000],
    registers: [this.registry],
  });
  readonly rowsDeleted = new Counter({
    name: 'iexpr_history_rows_deleted_total',
    help: 'History rows deleted, per reason (retention, user, range)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
}
