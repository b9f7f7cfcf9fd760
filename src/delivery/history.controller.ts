import { Controller, Delete, Get, Inject, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { RequireScope } from '../auth/auth.decorators';
import { HistoryQuerySchema, type HistoryDeleteView, type HistorySummaryView } from '../contracts/history';
import { HistoryService } from '../history/history.service';
import { BUCKET_CSV_HEADER, bucketCsv, ROW_CSV_HEADER, rowCsv, streamExport } from './history-export';
import { ERROR_SCHEMA } from './openapi-schemas';
import { ZodValidationPipe } from './zod-validation.pipe';

const queryPipe = new ZodValidationPipe(HistoryQuerySchema, 'query');
/** summary and delete take the filter only */
const filterPipe = new ZodValidationPipe(HistoryQuerySchema.omit({ resolution: true, format: true }), 'query');
type Query = ReturnType<typeof HistoryQuerySchema.parse>;

const errors = (...codes: number[]) => codes.map((status) => ApiResponse({ status, schema: ERROR_SCHEMA }));
const apply = (decorators: MethodDecorator[]): MethodDecorator => (t, k, d) => {
  for (const dec of decorators) dec(t, k, d);
};
const filterQueries = [
  ApiQuery({ name: 'cameraId', required: false }),
  ApiQuery({ name: 'userId', required: false }),
  ApiQuery({ name: 'from', required: false, description: 'ms since the epoch or ISO 8601; default: to - 1 h' }),
  ApiQuery({ name: 'to', required: false, description: 'ms since the epoch or ISO 8601 (exclusive); default: now' }),
];

const fileName = (q: Query) => `history-${q.cameraId ?? q.userId ?? 'all'}-${q.from ?? 'start'}-${q.to ?? 'now'}`.replace(/[^A-Za-z0-9._-]/g, '_');

/** Expression history (docs/HISTORY.md): aggregated series, label shares, streamed exports, deletion of a range. */
@ApiTags('history')
@ApiBearerAuth()
@Controller('api/history')
export class HistoryController {
  constructor(@Inject(HistoryService) private readonly history: HistoryService) {}

  @Get()
  @RequireScope('read')
  @ApiOperation({
    summary: 'Expression history: buckets aggregated in the database, or an export (format=csv|json, streamed)',
    description:
      'Without `format`: `{…, buckets: [{ts, scores, label, rows, tracks, faces}]}` at `resolution` (1s, 10s, 1min, 1h), at most ' +
      'HISTORY_MAX_BUCKETS buckets (400 beyond). With `format`: the stored rows (one per track per HISTORY_RESOLUTION_MS), or the ' +
      'buckets when `resolution` is given too, streamed. 404: unknown camera or user; 400: from after to; 503: HISTORY=off.',
  })
  @apply(filterQueries)
  @ApiQuery({ name: 'resolution', required: false, enum: ['1s', '10s', '1min', '1h'] })
  @ApiQuery({ name: 'format', required: false, enum: ['csv', 'json'] })
  @apply(errors(400, 401, 404, 503))
  async query(@Query(queryPipe) q: Query, @Res() res: Response): Promise<void> {
    if (!q.format) {
      res.status(200).json(this.history.series(q));
      return;
    }
    if (q.resolution) {
      const items = this.history.iterateSeries({ ...q, resolution: q.resolution });
      await streamExport(res, items, q.format === 'csv' ? { kind: 'csv', header: BUCKET_CSV_HEADER, line: bucketCsv } : { kind: 'json' }, fileName(q));
    } else {
      const items = this.history.iterateRows(q);
      await streamExport(res, items, q.format === 'csv' ? { kind: 'csv', header: ROW_CSV_HEADER, line: rowCsv } : { kind: 'json' }, fileName(q));
    }
  }

  @Get('summary')
  @RequireScope('read')
  @ApiOperation({ summary: 'Share of time per label, in all and per (camera, user)' })
  @apply(filterQueries)
  @apply(errors(400, 401, 404, 503))
  summary(@Query(filterPipe) q: Query): HistorySummaryView {
    return this.history.summary(q);
  }

  @Delete()
  @RequireScope('admin')
  @ApiOperation({ summary: 'Delete the history in [from, to) (both required), optionally of one camera or user', description: 'Answers `{deleted}` once done.' })
  @apply(filterQueries)
  @apply(errors(400, 401, 403, 404))
  async remove(@Query(filterPipe) q: Query): Promise<HistoryDeleteView> {
    return { deleted: await this.history.deleteRange(q) };
  }
}
