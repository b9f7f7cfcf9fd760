/**
 * The one thing the MQTT publisher needs from an MQTT client library, so the publisher is unit-tested with a fake and
 * the `mqtt` package appears in one adapter file only (mqtt.adapter.ts). Both the port and the Nest token.
 */

export type MqttQos = 0 | 1;

export interface MqttMessage {
  topic: string;
  /** UTF-8 text; '' with `retain` clears a retained message (and removes a Home Assistant discovery config). */
  payload: string;
  qos: MqttQos;
  retain: boolean;
}

export interface MqttConnectOptions {
  /** mqtt://, mqtts://, ws:// or wss://; may carry userinfo (username/password), which is never logged. */
  url: string;
  username?: string;
  password?: string;
  clientId: string;
  /** Published by the broker when this client vanishes without a clean disconnect (the availability topic's "offline"). */
  will: MqttMessage;
  /** Reconnect delay: starts at min, doubles after each failed attempt, capped at max; a successful connect resets it. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

/** What the connection tells its owner. Called from the client library's event loop callbacks; must not throw. */
export interface MqttLinkListener {
  /** Connected (first time or again): publish what a fresh broker session needs (availability, discovery, state). */
  connected(): void;
  /** The connection is gone (or a connect attempt failed); a reconnect is scheduled in `retryInMs`. */
  disconnected(reason: string, retryInMs: number): void;
}

export interface MqttLink {
  readonly connected: boolean;
  /**
   * Resolves once the message is handed to the socket (QoS 0) or acknowledged by the broker (QoS 1); rejects when the
   * connection drops first. Never queues while disconnected: the caller buffers (mqtt.publisher.ts).
   */
  publish(message: MqttMessage): Promise<void>;
  /** Publishes `final` (the availability "offline") if connected, then disconnects cleanly and stops reconnecting. */
  close(final?: MqttMessage): Promise<void>;
}

export abstract class MqttConnector {
  /** Starts connecting at once and keeps reconnecting (with backoff) until `close()`. Never throws for a broker that is down. */
  abstract connect(options: MqttConnectOptions, listener: MqttLinkListener): MqttLink;
}

/**
 * The URL with any userinfo replaced by `***` (mqtt://***@broker:1883), for logs and metrics. An unparsable URL is
 * shown as `<invalid url>` rather than echoed, since it could still contain a password.
 */
export function redactMqttUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    return u.toString().replace(/\/$/, '');
  } catch {
    return '<invalid url>';
  }
}

/** `text` with every occurrence of the given secrets replaced by `***` (error messages from the client library). */
export function scrubMqttSecrets(text: string, secrets: (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join('***');
  return out;
}
