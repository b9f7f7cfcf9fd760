import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { MqttConnectOptions, MqttConnector, MqttLink, MqttLinkListener, MqttMessage } from './mqtt.port';

/**
 * MqttConnector on mqtt.js, the only file that imports the `mqtt` package.
 *
 * Reconnects with capped exponential backoff. mqtt.js's own `reconnectPeriod` is a fixed interval (a `setInterval`
 * armed once when the link drops), so it is set to 0 here and this adapter schedules `client.reconnect()` itself:
 * min, 2·min, 4·min … up to max, reset by a successful connect. mqtt.js's offline queue is off (`queueQoSZero: false`,
 * and `publish` refuses while disconnected): its queue is unbounded, and the publisher keeps a bounded one instead.
 */
export class MqttJsConnector extends MqttConnector {
  connect(options: MqttConnectOptions, listener: MqttLinkListener): MqttLink {
    return new MqttJsLink(options, listener);
  }
}

class MqttJsLink implements MqttLink {
  private readonly client: MqttClient;
  private delayMs: number;
  private retryTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private lastError = '';

  constructor(
    private readonly options: MqttConnectOptions,
    private readonly listener: MqttLinkListener,
  ) {
    this.delayMs = options.reconnectMinMs;
    const clientOptions: IClientOptions = {
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      clean: true,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: 0, // our backoff, see the class comment
      queueQoSZero: false,
      resubscribe: false,
      will: { topic: options.will.topic, payload: Buffer.from(options.will.payload), qos: options.will.qos, retain: options.will.retain },
    };
    this.client = connect(options.url, clientOptions);
    this.client.on('connect', () => {
      this.delayMs = this.options.reconnectMinMs;
      this.lastError = '';
      this.listener.connected();
    });
    // Without an 'error' listener an EventEmitter error (ECONNREFUSED, bad credentials) would crash the process.
    this.client.on('error', (err: Error & { code?: unknown }) => {
      this.lastError = err.message || String(err.code ?? 'error');
    });
    this.client.on('close', () => this.scheduleReconnect());
  }

  get connected(): boolean {
    return this.client.connected;
  }

  publish(m: MqttMessage): Promise<void> {
    if (!this.client.connected) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      this.client.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain }, (err) => (err ? reject(err) : resolve()));
    });
  }

  async close(final?: MqttMessage): Promise<void> {
    this.closing = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (final && this.client.connected) {
      // Bounded: a broker that stops answering must not hold up the server's shutdown.
      await Promise.race([this.publish(final).catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.client.stream?.destroy();
        resolve();
      }, 1000);
      timer.unref();
      this.client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private scheduleReconnect(): void {
    if (this.closing || this.retryTimer) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.options.reconnectMaxMs, this.delayMs * 2);
    this.listener.disconnected(this.lastError || 'connection closed', delay);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closing) this.client.reconnect();
    }, delay);
    this.retryTimer.unref();
  }
}
