import { Injectable } from '@nestjs/common';
import type { Connection } from './connection';

/** The open connections, for fan-out. */
@Injectable()
export class ConnectionRegistry implements Iterable<Connection> {
  private readonly connections = new Set<Connection>();

  add(c: Connection): void {
    this.connections.add(c);
  }
  has(c: Connection): boolean {
    return this.connections.has(c);
  }
  delete(c: Connection): void {
    this.connections.delete(c);
  }
  get size(): number {
    return this.connections.size;
  }
  [Symbol.iterator](): Iterator<Connection> {
    return this.connections[Symbol.iterator]();
  }
}
