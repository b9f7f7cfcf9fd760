import { Injectable } from '@nestjs/common';
import type { Connection } from './connection';

/** One key per client address: `::ffff:10.0.0.5` (IPv4 on a dual-stack socket) and `10.0.0.5` are the same client. */
export function addressKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return 'unknown';
  const a = remoteAddress.toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice('::ffff:'.length) : a;
}

/** The open connections, for fan-out and for the connection caps (MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP). */
@Injectable()
export class ConnectionRegistry implements Iterable<Connection> {
  private readonly connections = new Set<Connection>();
  private readonly perAddress = new Map<string, number>();

  add(c: Connection): void {
    if (this.connections.has(c)) return;
    this.connections.add(c);
    const key = addressKey(c.remoteAddress);
    this.perAddress.set(key, (this.perAddress.get(key) ?? 0) + 1);
  }
  has(c: Connection): boolean {
    return this.connections.has(c);
  }
  delete(c: Connection): void {
    if (!this.connections.delete(c)) return;
    const key = addressKey(c.remoteAddress);
    const n = (this.perAddress.get(key) ?? 1) - 1;
    if (n > 0) this.perAddress.set(key, n);
    else this.perAddress.delete(key);
  }
  get size(): number {
    return this.connections.size;
  }
  /** Open connections from this client address (authenticated or not). */
  countFrom(remoteAddress: string | undefined): number {
    return this.perAddress.get(addressKey(remoteAddress)) ?? 0;
  }
  [Symbol.iterator](): Iterator<Connection> {
    return this.connections[Symbol.iterator]();
  }
}
