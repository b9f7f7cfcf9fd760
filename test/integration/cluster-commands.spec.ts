/**
 * Routed commands against a real nats-server: two nodes (each its own DI container with the real DeliveryModule,
 * CommandRouter and CommandForwarder, a NatsEventBus and its own NATS connection). Camera `k1` runs on node B: a
 * client on node A sends calibration.start for it; B's handler runs it (with the client's connection id as origin),
 * A's client gets B's ack, B's progress event reaches A's bus with that origin; a typed error on B comes back as the
 * same typed error; a command for a camera A runs, or a command that is not camera-bound, stays on A; B gone →
 * `unavailable` naming the node.
 */
import 'reflect-metadata';
import { Global, Inject, Injectable, Module } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { ClusterMetrics } from '../../src/cluster/cluster.metrics';
import { NatsEventBus } from '../../src/cluster/nats-event-bus';
import { connectNats, NatsJsLink } from '../../src/cluster/nats-js.link';
import { NatsLink } from '../../src/cluster/nats.link';
import { loadConfig } from '../../src/config';
import { ConfigModule } from '../../src/config.module';
import type { CommandOf } from '../../src/contracts/commands';
import { CodedError } from '../../src/contracts/errors';
import type { ServerMessage } from '../../src/contracts/messages';
import { CameraPlacement } from '../../src/contracts/ports/camera-placement';
import { CommandContext, WsCommand, WsCommandHandler } from '../../src/delivery/command-handler';
import { CommandRouter } from '../../src/delivery/command.router';
import { Connection } from '../../src/delivery/connection';
import { DeliveryMetrics } from '../../src/delivery/delivery.metrics';
import { DeliveryModule } from '../../src/delivery/delivery.module';
import { EventBus } from '../../src/events/event-bus';
import { CLUSTER_EVENT_BUS } from '../../src/events/events.module';
import { StorageModule } from '../../src/storage/storage.module';
import { NatsServer, requireNatsServer, startNatsServer } from '../support/nats';

const hasNats = requireNatsServer();

/** Which node runs which camera, as both nodes' placements agree. */
const OWNERS: Record<string, string> = { k1: 'node-b', k2: 'node-a' };

class FixedPlacement extends CameraPlacement {
  readonly clustered = true;
  constructor(readonly nodeId: string) {
    super();
  }
  async attach(): Promise<void> {}
  async detach(): Promise<void> {}
  ownerOf(id: string): string | null {
    return OWNERS[id] ?? null;
  }
  changed(): void {}
}

const NODE = Symbol('NODE');

/** Stands in for calibration: records where it ran and publishes a prompt for the asking connection. */
@Injectable()
@WsCommand('calibration.start')
class FakeCalibrationStart implements WsCommandHandler<'calibration.start'> {
  static calls: { node: string; cameraId: string; originId: string }[] = [];
  constructor(
    @Inject(NODE) private readonly node: string,
    @Inject(EventBus) private readonly bus: EventBus,
  ) {}
  handle(m: CommandOf<'calibration.start'>, ctx: CommandContext) {
    if (m.userId === 'nobody') throw new CodedError('not_found', 'no user "nobody"');
    FakeCalibrationStart.calls.push({ node: this.node, cameraId: m.cameraId, originId: ctx.connection.id });
    this.bus.publish(
      'calibration.prompt',
      { type: 'calibration.prompt', userId: m.userId, label: 'happy', index: 0, of: 1, style: 'natural', round: 0, rounds: 1, secondsLeft: 3 },
      { originId: ctx.connection.id, cameraIds: [m.cameraId] },
    );
    return { userId: m.userId, cameraId: m.cameraId, ranOn: this.node } as never;
  }
}

@Injectable()
@WsCommand('calibration.cancel')
class FakeCalibrationCancel implements WsCommandHandler<'calibration.cancel'> {
  constructor(@Inject(NODE) private readonly node: string) {}
  handle({ userId }: CommandOf<'calibration.cancel'>) {
    return { userId, cancelled: true, ranOn: this.node } as never;
  }
}

@Injectable()
@WsCommand('user.create')
class FakeUserCreate implements WsCommandHandler<'user.create'> {
  constructor(@Inject(NODE) private readonly node: string) {}
  handle({ name }: CommandOf<'user.create'>) {
    return { user: { id: 'u1', name }, ranOn: this.node } as never;
  }
}

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

interface TestNode {
  id: string;
  module: TestingModule;
  router: CommandRouter;
  bus: NatsEventBus;
  link: NatsJsLink;
  dir: string;
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(!hasNats)('routed commands on a real nats-server', () => {
  let nats: NatsServer;
  let a: TestNode;
  let b: TestNode;

  async function startNode(id: string): Promise<TestNode> {
    const dir = mkdtempSync(join(tmpdir(), `iex-cmd-${id}-`));
    const config = loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'error', NATS_URL: nats.url, NODE_ID: id, CLUSTER_COMMAND_TIMEOUT_MS: '2000' });
    const link = await connectNats({ servers: nats.url, name: id, replicas: 1 });
    const bus = new NatsEventBus(link, { nodeId: id, bufferMax: 100, metrics: new ClusterMetrics() });
    @Global()
    @Module({
      providers: [
        { provide: NatsLink, useValue: link },
        { provide: CameraPlacement, useValue: new FixedPlacement(id) },
        { provide: CLUSTER_EVENT_BUS, useValue: bus },
        { provide: NODE, useValue: id },
      ],
      exports: [NatsLink, CameraPlacement, CLUSTER_EVENT_BUS, NODE],
    })
    class ClusterStub {}
    @Module({ providers: [FakeCalibrationStart, FakeCalibrationCancel, FakeUserCreate] })
    class Handlers {}
    const module = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), ClusterStub, StorageModule, DeliveryModule.forRoot(), Handlers],
    }).compile();
    module.useLogger(false);
    await module.init();
    return { id, module, router: module.get(CommandRouter), bus, link, dir };
  }

  function client(node: TestNode) {
    const socket = new FakeSocket();
    const c = new Connection(
      socket as unknown as WebSocket,
      { maxTextBytes: 1e5, maxBinaryBytes: 1e6, maxBufferedBytes: 1e6, messagesPerSec: 1000, messageBurst: 1000, previewBytesPerSec: 1e6 },
      node.module.get(DeliveryMetrics),
      '127.0.0.1',
    );
    c.principal = { scope: 'admin', name: 't' };
    return { c, socket };
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    a = await startNode('node-a');
    b = await startNode('node-b');
  }, 30_000);

  afterAll(async () => {
    for (const n of [a, b]) {
      if (!n) continue;
      await n.module.close().catch(() => undefined);
      n.bus.stop();
      await n.link.close().catch(() => undefined);
      rmSync(n.dir, { recursive: true, force: true });
    }
    await nats?.stop();
  }, 30_000);

  it("runs a camera-bound command on the camera's node; the ack and the progress events come back to the client", async () => {
    const prompts: { originId?: string; node?: string }[] = [];
    const sub = a.bus.on('calibration.prompt').subscribe((e) => prompts.push({ originId: e.meta.originId, node: e.meta.node }));
    const { c, socket } = client(a);
    await a.router.handleText(c, JSON.stringify({ type: 'calibration.start', id: 'q1', userId: 'ada', cameraId: 'k1' }));
    expect(socket.sent).toEqual([{ type: 'ack', id: 'q1', userId: 'ada', cameraId: 'k1', ranOn: 'node-b' }]);
    expect(FakeCalibrationStart.calls.at(-1)).toEqual({ node: 'node-b', cameraId: 'k1', originId: c.id });
    await until('the prompt on node A', () => prompts.length > 0);
    expect(prompts[0]).toEqual({ originId: c.id, node: 'node-b' });
    sub.unsubscribe();
  });

  it('sends calibration.cancel to the node whose prompts the user’s calibration publishes; an unknown one stays here', async () => {
    const { c, socket } = client(a);
    await a.router.handleText(c, JSON.stringify({ type: 'calibration.cancel', id: 'c1', userId: 'ada' }));
    await a.router.handleText(c, JSON.stringify({ type: 'calibration.cancel', id: 'c2', userId: 'zed' }));
    expect(socket.sent).toEqual([
      { type: 'ack', id: 'c1', userId: 'ada', cancelled: true, ranOn: 'node-b' },
      { type: 'ack', id: 'c2', userId: 'zed', cancelled: true, ranOn: 'node-a' },
    ]);
  });

  it("passes the owner's typed error on unchanged", async () => {
    const { c, socket } = client(a);
    await a.router.handleText(c, JSON.stringify({ type: 'calibration.start', id: 'q2', userId: 'nobody', cameraId: 'k1' }));
    expect(socket.sent).toEqual([{ type: 'error', id: 'q2', code: 'not_found', message: 'no user "nobody"' }]);
  });

  it('keeps commands for its own cameras, and commands that are not camera-bound, local', async () => {
    const { c, socket } = client(a);
    await a.router.handleText(c, JSON.stringify({ type: 'calibration.start', id: 'q3', userId: 'ada', cameraId: 'k2' }));
    await a.router.handleText(c, JSON.stringify({ type: 'user.create', id: 'q4', name: 'bo' }));
    expect(socket.sent).toEqual([
      { type: 'ack', id: 'q3', userId: 'ada', cameraId: 'k2', ranOn: 'node-a' },
      { type: 'ack', id: 'q4', user: { id: 'u1', name: 'bo' }, ranOn: 'node-a' },
    ]);
  });

  it('answers unavailable, naming the node, when the owner does not answer', async () => {
    await b.module.close();
    const { c, socket } = client(a);
    await a.router.handleText(c, JSON.stringify({ type: 'calibration.start', id: 'q5', userId: 'ada', cameraId: 'k1' }));
    expect(socket.sent[0]).toMatchObject({ type: 'error', id: 'q5', code: 'unavailable' });
    expect((socket.sent[0] as { message: string }).message).toContain('node-b');
  });
});
