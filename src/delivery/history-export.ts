import type { Response } from 'express';
import type { HistoryBucketView, HistoryRowView } from '../contracts/history';
import { LABEL_NAMES } from '../contracts/labels';

/** Bytes gathered before one `res.write` (and one turn of the event loop). */
const CHUNK_BYTES = 16 * 1024;

/** A text cell for CSV: quoted when it holds a separator, and defused when a spreadsheet would read it as a formula. */
function text(value: string | null): string {
  if (value === null) return '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const ROW_CSV_HEADER = ['ts', 'time', 'camera_id', 'track_id', 'user_id', 'label', ...LABEL_NAMES, 'faces', 'frames', 'box_x', 'box_y', 'box_w', 'box_h'];
export const rowCsv = (r: HistoryRowView): string =>
  [r.ts, new Date(r.ts).toISOString(), text(r.cameraId), r.trackId, text(r.userId), r.label, ...LABEL_NAMES.map((l) => r.scores[l]), r.faces, r.frames, r.box.x, r.box.y, r.box.w, r.box.h].join(',');

export const BUCKET_CSV_HEADER = ['ts', 'time', 'label', ...LABEL_NAMES, 'rows', 'tracks', 'faces'];
export const bucketCsv = (b: HistoryBucketView): string =>
  [b.ts, new Date(b.ts).toISOString(), b.label, ...LABEL_NAMES.map((l) => b.scores[l]), b.rows, b.tracks, b.faces].join(',');

/**
 * Streams an iterator to the response, CSV (a header line, then one line per item) or a JSON array: items are pulled
 * one at a time, gathered into ~16 KB chunks, and each chunk waits for 'drain' when the socket's buffer is full
 * (backpressure) and otherwise for the next turn of the event loop, so a fast client cannot hold the loop either.
 * Memory stays one chunk whatever the range. The iterator is closed (its reader connection too) when the client goes.
 */
export async function streamExport<T>(
  res: Response,
  items: IterableIterator<T>,
  format: { kind: 'csv'; header: string[]; line: (item: T) => string } | { kind: 'json' },
  filename: string,
): Promise<void> {
  let gone = false;
  res.on('close', () => {
    gone = !res.writableFinished;
  });
  res.status(200);
  res.setHeader('Content-Type', format.kind === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="${filename}.${format.kind}"`);
  res.setHeader('Cache-Control', 'no-store');
  let chunk = format.kind === 'csv' ? `${format.header.join(',')}\n` : '[';
  let first = true;
  try {
    for (const item of items) {
      if (format.kind === 'csv') chunk += `${format.line(item)}\n`;
      else {
        chunk += `${first ? '\n' : ',\n'}${JSON.stringify(item)}`;
        first = false;
      }
      if (chunk.length >= CHUNK_BYTES) {
        const full = !res.write(chunk);
        chunk = '';
        if (full) await drainOrClose(res);
        else await new Promise<void>((resolve) => setImmediate(resolve));
        if (gone || res.destroyed) return;
      }
    }
    if (format.kind === 'json') chunk += first ? ']\n' : '\n]\n';
    res.end(chunk);
  } catch (err) {
    if (!res.headersSent) throw err; // nothing sent yet: the error filter answers
    // Headers are out: all that can still be said is that the body is cut short.
    res.destroy(err instanceof Error ? err : new Error(String(err)));
  } finally {
    items.return?.();
  }
}

/** Resolves on the next 'drain' or 'close', leaving no listener behind (one wait per full buffer). */
function drainOrClose(res: Response): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
