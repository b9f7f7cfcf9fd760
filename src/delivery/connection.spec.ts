import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { Connection } from './connection';
import { DeliveryMetrics } from './delivery.metrics';

class FakeSocket {
  readyState = 1;
  bufferedAmount = 0;
  sent: unknown[] = [];
  send(data: unknown) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
  }
}

function make(previewBytesPerSec = 10_000) {
  const socket = new FakeSocket();
  const metrics = new DeliveryMetrics();
  const c = new Connection(
    socket as unknown as WebSocket,
    { maxTextBytes: 1e5, maxBinaryBytes: 1e6, maxBufferedBytes: 1000, messagesPerSec: 10, messageBurst: 10, previewBytesPerSec },
    metrics,
    '127.0.0.1',
  );
  return { c, socket, metrics };
}

describe('Connection', () => {
  it('drops events above the buffered limit and counts them; replies still go out below 4x', async () => {
    const { c, socket, metrics } = make();
    expect(c.sendEvent('{"type":"expression"}', 'expression')).toBe(true);
    socket.bufferedAmount = 1001;
    expect(c.sendEvent('{"type":"expression"}', 'expression')).toBe(false);
    expect(c.droppedEvents).toBe(1);
    c.error('x', 'bad_message', 'still answered');
    expect(socket.sent).toHaveLength(2);
    socket.bufferedAmount = 4001;
    c.error('y', 'bad_message', 'client stopped reading');
    expect(socket.sent).toHaveLength(2);
    expect(await metrics.registry.getSingleMetricAsString('iexpr_ws_events_dropped_total')).toContain('{type="expression"} 1');
  });

  it('keeps previews within the per-connection bandwidth', () => {
    const { c, socket } = make(10_000);
    const preview = new Uint8Array(4000);
    expect(c.sendPreview(preview)).toBe(true);
    expect(c.sendPreview(preview)).toBe(true);
    expect(c.sendPreview(preview)).toBe(false); // 12 KB > 10 KB/s bucket
    expect(socket.sent).toHaveLength(2);
  });

  it('allocates browser channels lowest-first up to the maximum', () => {
    const { c } = make();
    const cam = { id: 'b', push: () => {} };
    for (let i = 0; i < 8; i++) {
      expect(c.freeChannel()).toBe(i);
      c.channels.set(i, cam);
    }
    expect(c.freeChannel()).toBeNull();
    c.channels.delete(3);
    expect(c.freeChannel()).toBe(3);
  });
});
