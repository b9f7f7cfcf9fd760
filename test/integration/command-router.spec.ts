import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { loadConfig } from '../../src/config';
import { ConfigModule } from '../../src/config.module';
import type { CommandOf } from '../../src/contracts/commands';
import { CodedError } from '../../src/contracts/errors';
import type { ServerMessage } from '../../src/contracts/messages';
import { CommandContext, WsCommand, WsCommandHandler } from '../../src/delivery/command-handler';
import { CommandRouter } from '../../src/delivery/command.router';
import { Connection } from '../../src/delivery/connection';
import { DeliveryMetrics } from '../../src/delivery/delivery.metrics';
import { DeliveryModule } from '../../src/delivery/delivery.module';
import { StorageModule } from '../../src/storage/storage.module';

/** A handler from another feature module: the way personalization plugs its commands in. */
@Injectable()
@WsCommand('user.create')
class UserCreateHandler implements WsCommandHandler<'user.create'> {
  handle({ name }: CommandOf<'user.create'>, { connection }: CommandContext) {
    if (name === 'taken') throw new CodedError('conflict', 'name taken');
    if (name === 'boom') throw new Error('db exploded at rtsp://a:b@c');
    return { user: { id: 'u1', name }, by: connection.principal?.name };
  }
}
@Module({ providers: [UserCreateHandler] })
class UsersModule {}

class FakeSocket {
  readyState = 1;
  bufferedAmount = 0;
  sent: ServerMessage[] = [];
  send(data: string) {
    this.sent.push(JSON.parse(data) as ServerMessage);
  }
  close() {
    this.readyState = 3;
  }
}

describe('CommandRouter (through the DI container)', () => {
  let router: CommandRouter;
  let metrics: DeliveryMetrics;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iex-router-'));
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(loadConfig({ DATA_DIR: dir })), StorageModule, DeliveryModule.forRoot(), UsersModule],
    }).compile();
    await moduleRef.init();
    router = moduleRef.get(CommandRouter);
    metrics = moduleRef.get(DeliveryMetrics);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function connection(scope: 'read' | 'admin' | null, rate = 1000) {
    const socket = new FakeSocket();
    const c = new Connection(
      socket as unknown as WebSocket,
      { maxTextBytes: 1e5, maxBinaryBytes: 1e6, maxBufferedBytes: 1e6, messagesPerSec: rate, messageBurst: rate, previewBytesPerSec: 1e6 },
      metrics,
      '127.0.0.1',
    );
    c.principal = scope ? { scope, name: `t-${scope}` } : null;
    return { c, socket };
  }

  it('discovers handlers from any module, one per type', () => {
    expect(router.handledTypes()).toEqual(
      expect.arrayContaining(['auth', 'subscribe', 'unsubscribe', 'camera.add', 'camera.remove', 'camera.list', 'camera.retry', 'browser.open', 'user.create']),
    );
  });

  it('routes to the handler and acks with its payload', async () => {
    const { c, socket } = connection('admin');
    await router.handleText(c, '{"type":"user.create","id":"q1","name":"ann"}');
    expect(socket.sent).toEqual([{ type: 'ack', id: 'q1', user: { id: 'u1', name: 'ann' }, by: 't-admin' }]);
  });

  it('coded errors become typed errors; others "internal" without details', async () => {
    const { c, socket } = connection('admin');
    await router.handleText(c, '{"type":"user.create","id":"q2","name":"taken"}');
    await router.handleText(c, '{"type":"user.create","id":"q3","name":"boom"}');
    expect(socket.sent[0]).toEqual({ type: 'error', id: 'q2', code: 'conflict', message: 'name taken' });
    expect(socket.sent[1]).toMatchObject({ type: 'error', id: 'q3', code: 'internal' });
    expect(JSON.stringify(socket.sent[1])).not.toContain('a:b@');
  });

  it('a type without a handler answers unavailable', async () => {
    const { c, socket } = connection('admin');
    await router.handleText(c, '{"type":"finetune.start","id":"q4","userId":"u"}');
    expect(socket.sent[0]).toMatchObject({ code: 'unavailable', id: 'q4' });
  });

  it('checks authentication, then scope, before any handler runs', async () => {
    const none = connection(null);
    await router.handleText(none.c, '{"type":"user.create","id":"q5","name":"x"}');
    expect(none.socket.sent[0]).toMatchObject({ code: 'unauthorized' });
    const read = connection('read');
    await router.handleText(read.c, '{"type":"user.create","id":"q6","name":"x"}');
    expect(read.socket.sent[0]).toMatchObject({ code: 'forbidden', id: 'q6' });
    await router.handleText(read.c, '{"type":"subscribe","id":"q7","cameras":["k"]}');
    expect(read.socket.sent[1]).toMatchObject({ type: 'ack', id: 'q7', cameras: ['k'] });
    expect(read.c.events.has('k')).toBe(true);
  });

  it('rate limits per connection', async () => {
    const { c, socket } = connection('admin', 3);
    for (let i = 0; i < 6; i++) await router.handleText(c, `{"type":"subscribe","id":"r${i}","cameras":"*"}`);
    expect(socket.sent.map((m) => (m.type === 'error' ? m.code : m.type))).toEqual(['ack', 'ack', 'ack', 'rate_limited', 'rate_limited', 'rate_limited']);
  });

  it('a second handler for the same type is refused at startup', async () => {
    @Injectable()
    @WsCommand('user.create')
    class Again implements WsCommandHandler<'user.create'> {
      handle() {}
    }
    @Module({ providers: [Again] })
    class AgainModule {}
    const d = mkdtempSync(join(tmpdir(), 'iex-router2-'));
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(loadConfig({ DATA_DIR: d })), StorageModule, DeliveryModule.forRoot(), UsersModule, AgainModule],
    }).compile();
    await expect(moduleRef.init()).rejects.toThrow(/two handlers.*user\.create/);
    rmSync(d, { recursive: true, force: true });
  });
});
