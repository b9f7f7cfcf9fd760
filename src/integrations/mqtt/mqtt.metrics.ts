import { Counter, Gauge, Registry } from 'prom-client';

/** The MQTT publisher's counters, in a registry of their own that /metrics serves (AppModule passes it to delivery). */
export class MqttMetrics {
  readonly registry = new Registry();

  readonly connected = new Gauge({ name: 'iexpr_mqtt_connected', help: '1 while connected to the MQTT broker', registers: [this.registry] });
  readonly published = new Counter({ name: 'iexpr_mqtt_published_total', help: 'MQTT messages handed to the broker connection', registers: [this.registry] });
  readonly dropped = new Counter({
    name: 'iexpr_mqtt_dropped_total',
    help: 'MQTT messages never sent, per reason (superseded: a newer message for the same topic replaced it in the buffer; overflow: the buffer was full, oldest dropped)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly buffered = new Gauge({ name: 'iexpr_mqtt_buffered', help: 'MQTT messages waiting for the broker (bounded by MQTT_BUFFER_MAX)', registers: [this.registry] });
  readonly disconnects = new Counter({ name: 'iexpr_mqtt_disconnects_total', help: 'Lost connections and failed connect attempts to the MQTT broker', registers: [this.registry] });

  /** Plain numbers, for tests. */
  async snapshot(): Promise<{ connected: number; published: number; dropped: Record<string, number>; buffered: number; disconnects: number }> {
    const one = async (m: Gauge | Counter) => (await m.get()).values.reduce((a, v) => a + v.value, 0);
    const dropped: Record<string, number> = {};
    for (const v of (await this.dropped.get()).values) dropped[String(v.labels.reason)] = v.value;
    return {
      connected: await one(this.connected),
      published: await one(this.published),
      dropped,
      buffered: await one(this.buffered),
      disconnects: await one(this.disconnects),
    };
  }
}
