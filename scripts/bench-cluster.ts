/**
 * Cluster benchmark: one nats-server (JetStream, monitoring on) and N real node processes on this machine, each
 * pinned to its own core with `taskset` where the machine has at least N cores, streaming C looping file cameras.
 *
 *   npm run bench:cluster -- --nodes N --cameras C --source <video> [--fps F] [--duration S] [--warmup S] [--json]
 *
 * Reports:
 *   - aggregate and per-node frames/s: the rise of each node's iexpr_frames_processed_total (its /metrics) over the
 *     measured window, with each node's CPU share (/proc/<pid>/stat) and the cameras it runs;
 *   - event latency p50/p99: the `latencyMs` (capture on the camera's node → written to the socket) of the
 *     expression events a WebSocket client connected to another node receives (the node running the fewest cameras;
 *     events of its own cameras are reported apart, as "same node");
 *   - NATS overhead per event: CPU time of the nats-server process over the window ÷ events the nodes published to
 *     NATS (iexpr_cluster_events_sent_total), and bytes in/out from its monitoring endpoint (/varz) ÷ the same events
 *     (heartbeats and KV traffic included: this is the whole cost of the cluster to NATS);
 *   - recovery after `kill -9` of the node running the most cameras: until every one of its cameras has produced an
 *     expression event captured after the kill on another node (needs camera leases: the camera views' `node`).
 *
 * Options: --fps F per camera (default 30, at most 60; the file is played at its real rate, so C × F is the offered
 * load), --warmup S after every camera streams (default 5), --duration S measured (default 30), --no-kill (skip the
 * recovery), --recovery-timeout S (default 60), --no-pin, --server dist|source (default dist: the built server,
 * `node dist/main.js`, after `tsc -b tsconfig.build.json` unless --no-build; source: `node --import tsx src/main.ts`).
 * Every node gets the same ADMIN_TOKEN (generated), its own DATA_DIR under a temporary folder, NODE_ID node1…nodeN,
 * NATS_URL of the server started here. Figures and how they were measured: docs/CLUSTER.md "Benchmark".
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import WebSocket from 'ws';
import { ChildServer, startChildServer } from '../test/support/child-server';
import { freePort, NatsServer, requireNatsServer, startNatsServer } from '../test/support/nats';
import { cliArgs, fail, numberArg } from './cli';

const ROOT = resolve(__dirname, '..');
const USAGE =
  'npm run bench:cluster -- --nodes N --cameras C --source <video> [--fps F] [--duration S] [--warmup S] [--no-kill] [--recovery-timeout S] [--no-pin] [--server dist|source] [--no-build] [--json]';
const args = cliArgs(USAGE, {
  nodes: { type: 'string', default: '2' },
  cameras: { type: 'string', default: '8' },
  source: { type: 'string', default: resolve(ROOT, '../shared/videos/d6.mp4') },
  fps: { type: 'string', default: '30' },
  duration: { type: 'string', default: '30' },
  warmup: { type: 'string', default: '5' },
  'no-kill': { type: 'boolean', default: false },
  'recovery-timeout': { type: 'string', default: '60' },
  'no-pin': { type: 'boolean', default: false },
  server: { type: 'string', default: 'dist' },
  'no-build': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
});

const nodeCount = numberArg('nodes', args.nodes, { min: 1, max: 32, int: true });
const cameraCount = numberArg('cameras', args.cameras, { min: 1, max: 256, int: true });
const fps = numberArg('fps', args.fps, { min: 0.1, max: 60 });
const duration = numberArg('duration', args.duration, { min: 1, max: 3600 });
const warmup = numberArg('warmup', args.warmup, { min: 0, max: 600 });
const recoveryTimeout = numberArg('recovery-timeout', args['recovery-timeout'], { min: 1, max: 600 });
if (args.server !== 'dist' && args.server !== 'source') fail(`--server must be dist or source (got ${JSON.stringify(args.server)})`, USAGE);
const source = resolve(args.source);
if (!existsSync(source)) fail(`--source ${source} does not exist`, USAGE);
const natsBin = requireNatsServer();
if (!natsBin) fail('nats-server is not installed (apt install nats-server)');

const log = (s: string) => (args.json ? process.stderr.write(s + '\n') : console.log(s));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r1 = (v: number) => Math.round(v * 10) / 10;
const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const TOKEN = `bench-${randomBytes(12).toString('hex')}`;
const AUTH = { authorization: `Bearer ${TOKEN}` };

interface Node {
  id: string;
  index: number;
  cpu: number | null;
  server: ChildServer;
  alive: boolean;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; null when it is gone. */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // after the command name: state is field 3, utime 14, stime 15 (1-based over the whole line)
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

async function getJson<T>(url: string, headers: Record<string, string> = AUTH): Promise<T> {
  const r = await fetch(url, { headers });
  if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

/** Sum of a Prometheus counter over all its label sets in a /metrics text. */
function counter(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return sum;
}

interface CameraRow {
  id: string;
  status: string;
  node?: unknown;
}

/** cameraId → node id: the views' `node` where they carry one (camera leases), else the nodes' own lists in GET /api/cluster. */
async function owners(nodes: Node[]): Promise<{ owners: Map<string, string>; from: 'camera views' | 'cluster view' }> {
  const alive = nodes.filter((n) => n.alive);
  const cams = await getJson<CameraRow[]>(`${alive[0].server.url}/api/cameras`);
  if (cams.some((c) => typeof c.node === 'string')) {
    return { owners: new Map(cams.filter((c) => typeof c.node === 'string').map((c) => [c.id, c.node as string])), from: 'camera views' };
  }
  const map = new Map<string, string>();
  const cluster = await getJson<{ nodes: { id: string; cameras: string[] }[] }>(`${alive[0].server.url}/api/cluster`);
  for (const n of cluster.nodes) for (const c of n.cameras) map.set(c, n.id);
  return { owners: map, from: 'cluster view' };
}

/** A WebSocket client subscribed to every camera; calls `onExpression` for each expression event. */
async function wsClient(node: Node, onExpression: (e: { cameraId: string; ts: number; latencyMs: number }) => void): Promise<WebSocket> {
  const ws = new WebSocket(node.server.wsUrl, { headers: AUTH });
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  const acked = new Promise<void>((res, rej) => {
    ws.on('message', (data, binary) => {
      if (binary) return;
      const m = JSON.parse(data.toString()) as { type: string; id?: string; cameraId: string; ts: number; latencyMs: number; code?: string };
      if (m.type === 'expression') onExpression(m);
      else if (m.type === 'ack' && m.id === 'sub') res();
      else if (m.type === 'error' && m.id === 'sub') rej(new Error(`subscribe on ${node.id}: ${m.code}`));
    });
  });
  ws.send(JSON.stringify({ type: 'subscribe', id: 'sub', cameras: '*' }));
  await acked;
  return ws;
}

async function main(): Promise<void> {
  const cores = cpus().length;
  const pin = !args['no-pin'] && cores >= nodeCount;
  if (args.server === 'dist' && !args['no-build']) {
    log('building the server (tsc -b tsconfig.build.json)…');
    const b = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) fail('the server build failed (see above); --server source runs it from the sources');
  }
  if (args.server === 'dist' && !existsSync(join(ROOT, 'dist/main.js'))) fail('dist/main.js is missing: npm run build');

  const tmp = mkdtempSync(join(tmpdir(), 'iexpr-bench-cluster-'));
  const monitorPort = await freePort();
  let nats: NatsServer | null = null;
  const nodes: Node[] = [];
  const sockets: WebSocket[] = [];
  const cleanup = async () => {
    for (const s of sockets) s.terminate();
    await Promise.all(nodes.filter((n) => n.alive).map((n) => n.server.term(10_000)));
    await nats?.stop();
    rmSync(tmp, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  try {
    nats = await startNatsServer({ name: 'iex-bench', extraArgs: ['-m', String(monitorPort)] });
    const varz = () => getJson<{ in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number }>(`http://127.0.0.1:${monitorPort}/varz`, {});
    log(`nats-server ${nats.url} (pid ${nats.pid()}, monitoring :${monitorPort}); ${nodeCount} node(s), ${pin ? `each pinned to its own core of ${cores}` : `not pinned (${cores} cores${args['no-pin'] ? ', --no-pin' : ''})`}`);
    // One at a time: several starting together on few cores load the models side by side and take longer in all.
    for (let i = 1; i <= nodeCount; i++) {
      const server = await startChildServer({
        dataDir: join(tmp, `node${i}`),
        entry: args.server as 'dist' | 'source',
        cpu: pin ? i - 1 : undefined,
        startTimeoutMs: 120_000,
        env: { NATS_URL: nats.url, NODE_ID: `node${i}`, ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'log' },
      });
      nodes.push({ id: `node${i}`, index: i, cpu: pin ? i - 1 : null, server, alive: true });
      log(`  node${i}: ${server.url} (pid ${server.pid}${pin ? `, core ${i - 1}` : ''})`);
    }
    const first = nodes[0];
    // Cameras go to the least-loaded live node: add them once node1 sees every node, or they all land on the first ones.
    const joinedBy = Date.now() + 60_000;
    while ((await getJson<{ nodes: unknown[] }>(`${first.server.url}/api/cluster`)).nodes.length < nodeCount) {
      if (Date.now() > joinedBy) throw new Error(`node1 does not see all ${nodeCount} nodes in GET /api/cluster after 60 s`);
      await sleep(250);
    }
    for (let i = 0; i < cameraCount; i++) {
      const r = await fetch(`${first.server.url}/api/cameras`, {
        method: 'POST',
        headers: { ...AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ url: `file://${source}`, loop: true, fps, name: `bench${i + 1}` }),
      });
      if (r.status !== 201) throw new Error(`POST /api/cameras on node1: ${r.status} ${await r.text()}`);
    }
    const cameraIds = (await getJson<CameraRow[]>(`${first.server.url}/api/cameras`)).map((c) => c.id);
    log(`${cameraCount} cameras of ${basename(source)} at ${fps} fps added through node1; waiting for each one's first event…`);

    // Ready: an expression event of every camera (on whichever node runs it) and every camera's owner known.
    const seen = new Set<string>();
    const probe = await wsClient(first, (e) => seen.add(e.cameraId));
    sockets.push(probe);
    const readyBy = Date.now() + 180_000;
    let placement = await owners(nodes);
    while (seen.size < cameraIds.length || cameraIds.some((c) => !placement.owners.has(c))) {
      if (Date.now() > readyBy) {
        throw new Error(`not every camera streams with a known owner after 180 s: events from ${seen.size}/${cameraIds.length}, owners ${JSON.stringify([...placement.owners])}`);
      }
      await sleep(500);
      placement = await owners(nodes);
    }
    probe.terminate();
    const perNode = (id: string) => cameraIds.filter((c) => placement.owners.get(c) === id).length;
    // The client goes to the node running the fewest cameras (the last such): most of what it sees crossed NATS.
    const clientNode = [...nodes].sort((a, b) => perNode(a.id) - perNode(b.id) || b.index - a.index)[0];
    const remote: number[] = [];
    const local: number[] = [];
    let measuring = false;
    const client = await wsClient(clientNode, (e) => {
      if (!measuring) return;
      (placement.owners.get(e.cameraId) === clientNode.id ? local : remote).push(e.latencyMs);
    });
    sockets.push(client);
    log(`placement (${placement.from}): ${nodes.map((n) => `${n.id} ${perNode(n.id)}`).join(', ')}; WS client on ${clientNode.id}; warm-up ${warmup} s, then ${duration} s measured`);
    await sleep(warmup * 1000);

    const snapshot = async () => ({
      t: performance.now(),
      metrics: await Promise.all(nodes.map((n) => fetch(`${n.server.url}/metrics`, { headers: AUTH }).then((r) => r.text()))),
      cpu: nodes.map((n) => cpuSeconds(n.server.pid) ?? NaN),
      natsCpu: cpuSeconds(nats!.pid()!) ?? NaN,
      varz: await varz(),
    });
    const s0 = await snapshot();
    measuring = true;
    await sleep(duration * 1000);
    measuring = false;
    const s1 = await snapshot();
    placement = await owners(nodes);
    const wall = (s1.t - s0.t) / 1000;
    const perNodeResults = nodes.map((n, i) => ({
      id: n.id,
      core: n.cpu,
      cameras: perNode(n.id),
      framesPerSecond: r1((counter(s1.metrics[i], 'iexpr_frames_processed_total') - counter(s0.metrics[i], 'iexpr_frames_processed_total')) / wall),
      cpuPercent: r1((100 * (s1.cpu[i] - s0.cpu[i])) / wall),
      eventsToNats: counter(s1.metrics[i], 'iexpr_cluster_events_sent_total') - counter(s0.metrics[i], 'iexpr_cluster_events_sent_total'),
    }));
    const events = perNodeResults.reduce((a, n) => a + n.eventsToNats, 0);
    const natsCpuS = s1.natsCpu - s0.natsCpu;
    remote.sort((a, b) => a - b);
    local.sort((a, b) => a - b);
    const result = {
      nodes: nodeCount,
      cameras: cameraCount,
      fpsPerCamera: fps,
      source: basename(source),
      server: args.server,
      pinned: pin,
      cores,
      durationS: r1(wall),
      framesPerSecond: r1(perNodeResults.reduce((a, n) => a + n.framesPerSecond, 0)),
      perNode: perNodeResults,
      placementFrom: placement.from,
      clientNode: clientNode.id,
      latencyMs: {
        otherNode: { n: remote.length, p50: pct(remote, 50), p99: pct(remote, 99) },
        sameNode: { n: local.length, p50: pct(local, 50), p99: pct(local, 99) },
      },
      nats: {
        eventsPublished: events,
        cpuPercent: r1((100 * natsCpuS) / wall),
        cpuUsPerEvent: events ? r1((natsCpuS * 1e6) / events) : null,
        bytesInPerEvent: events ? Math.round((s1.varz.in_bytes - s0.varz.in_bytes) / events) : null,
        bytesOutPerEvent: events ? Math.round((s1.varz.out_bytes - s0.varz.out_bytes) / events) : null,
        msgsInPerSecond: r1((s1.varz.in_msgs - s0.varz.in_msgs) / wall),
        msgsOutPerSecond: r1((s1.varz.out_msgs - s0.varz.out_msgs) / wall),
      },
    };
    // Printed before the kill, so the throughput figures survive whatever the recovery does.
    if (!args.json) report(result);
    const recovery = await recover(nodes, cameraIds, placement);
    if (args.json) process.stdout.write(JSON.stringify({ ...result, recovery }, null, 2) + '\n');
    else reportRecovery(recovery);
  } finally {
    await cleanup();
  }
}

type Recovery = { seconds: number | null; killed: string | null; cameras: number; note: string };

/** kill -9 of the node running the most cameras; seconds until each of its cameras streams again on another node. */
async function recover(nodes: Node[], cameraIds: string[], placement: Awaited<ReturnType<typeof owners>>): Promise<Recovery> {
  if (args['no-kill']) return { seconds: null, killed: null, cameras: 0, note: 'skipped (--no-kill)' };
  if (nodes.length < 2) return { seconds: null, killed: null, cameras: 0, note: 'n/a: one node, nowhere to move its cameras' };
  if (placement.from !== 'camera views') {
    return {
      seconds: null,
      killed: null,
      cameras: 0,
      note: 'n/a: the camera views carry no `node` (no camera leases in this build): nothing would take over a dead node\'s cameras',
    };
  }
  const count = (id: string) => cameraIds.filter((c) => placement.owners.get(c) === id).length;
  const victim = [...nodes].sort((a, b) => count(b.id) - count(a.id) || a.index - b.index)[0];
  const orphans = new Set(cameraIds.filter((c) => placement.owners.get(c) === victim.id));
  const survivor = nodes.find((n) => n !== victim)!;
  const back = new Map<string, number>();
  let killedAt = Infinity;
  const ws = await wsClient(survivor, (e) => {
    // captured after the kill, so on another node
    if (orphans.has(e.cameraId) && e.ts > killedAt && !back.has(e.cameraId)) back.set(e.cameraId, Date.now());
  });
  try {
    log(`kill -9 ${victim.id} (${orphans.size} cameras); waiting up to ${recoveryTimeout} s for them to stream elsewhere…`);
    killedAt = Date.now();
    await victim.server.kill9();
    victim.alive = false;
    const deadline = killedAt + recoveryTimeout * 1000;
    while (back.size < orphans.size && Date.now() < deadline) await sleep(100);
    if (back.size < orphans.size) {
      return { seconds: null, killed: victim.id, cameras: orphans.size, note: `${orphans.size - back.size} of ${orphans.size} cameras not streaming after ${recoveryTimeout} s` };
    }
    const after = await owners(nodes);
    const still = [...orphans].filter((c) => after.owners.get(c) === victim.id);
    return {
      seconds: r1((Math.max(...back.values()) - killedAt) / 1000),
      killed: victim.id,
      cameras: orphans.size,
      note: still.length ? `events came back, but the views still name ${victim.id} for ${still.join(', ')}` : 'every camera streams on another node',
    };
  } finally {
    ws.terminate();
  }
}

function report(r: {
  nodes: number;
  cameras: number;
  fpsPerCamera: number;
  source: string;
  pinned: boolean;
  cores: number;
  durationS: number;
  framesPerSecond: number;
  perNode: { id: string; core: number | null; cameras: number; framesPerSecond: number; cpuPercent: number; eventsToNats: number }[];
  placementFrom: string;
  clientNode: string;
  latencyMs: Record<'otherNode' | 'sameNode', { n: number; p50: number | null; p99: number | null }>;
  nats: { eventsPublished: number; cpuPercent: number; cpuUsPerEvent: number | null; bytesInPerEvent: number | null; bytesOutPerEvent: number | null };
}): void {
  const lat = (l: { n: number; p50: number | null; p99: number | null }) => (l.n ? `p50 ${l.p50} ms, p99 ${l.p99} ms (n=${l.n})` : 'n/a (no such event)');
  console.log(`\nbench:cluster: ${r.nodes} node(s)${r.pinned ? ', one core each' : ' (not pinned)'}, ${r.cameras} cameras × ${r.fpsPerCamera} fps of ${r.source}, ${r.durationS} s`);
  console.log(`aggregate            ${r.framesPerSecond} frames/s`);
  for (const n of r.perNode) {
    console.log(`  ${n.id.padEnd(18)} ${String(n.framesPerSecond).padStart(7)} frames/s  ${n.cameras} cameras  CPU ${n.cpuPercent}%${n.core !== null ? ` (core ${n.core})` : ''}`);
  }
  console.log(`latency, WS client on ${r.clientNode}: other node's cameras ${lat(r.latencyMs.otherNode)}; same node ${lat(r.latencyMs.sameNode)}`);
  console.log(
    `NATS per event (${r.nats.eventsPublished} published): ${r.nats.cpuUsPerEvent ?? 'n/a'} µs CPU, ${r.nats.bytesInPerEvent ?? 'n/a'} B in, ${r.nats.bytesOutPerEvent ?? 'n/a'} B out (nats-server CPU ${r.nats.cpuPercent}%)`,
  );
}

function reportRecovery(r: Recovery): void {
  console.log(`recovery after kill -9${r.killed ? ` of ${r.killed} (${r.cameras} cameras)` : ''}: ${r.seconds !== null ? `${r.seconds} s` : 'n/a'} — ${r.note}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
