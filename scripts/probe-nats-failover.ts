/**
 * What a NATS cluster answers right after one of its servers stops: three nats-servers (the tests' cluster, on
 * loopback), eight replicated KV buckets like a node's shared state (R3, 10 keys each, watched by three "nodes"), then
 * one server stopped with --signal, then every --every seconds each bucket is opened and its keys listed the way a
 * node starting then would (kvm.create + kv.keys(): a stream info and one R1 ephemeral consumer, 5 s JetStream
 * timeout), for --seconds.
 *
 *   npx tsx scripts/probe-nats-failover.ts [--kill meta|other] [--signal SIGKILL|SIGTERM] [--seconds S] [--every S] [--json]
 *
 * Prints one line per round (ok/timeout per bucket, ms) and a summary: tries, timeouts, the share that timed out per
 * minute since the stop, and the first moment after which three rounds in a row all succeeded (null: not within
 * --seconds). Why it exists: docs/CLUSTER.md "Known gaps" (nats-server 2.9 places R1 consumers on the dead peer).
 */
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { startNatsCluster } from '../test/support/nats';
import { cliArgs, fail, numberArg } from './cli';

const USAGE = 'npx tsx scripts/probe-nats-failover.ts [--kill meta|other] [--signal SIGKILL|SIGTERM] [--seconds S] [--every S] [--json]';
const args = cliArgs(USAGE, {
  kill: { type: 'string', default: 'meta' },
  signal: { type: 'string', default: 'SIGKILL' },
  seconds: { type: 'string', default: '240' },
  every: { type: 'string', default: '2' },
  json: { type: 'boolean', default: false },
});
if (args.kill !== 'meta' && args.kill !== 'other') fail(`--kill must be meta or other (got ${JSON.stringify(args.kill)})`, USAGE);
if (args.signal !== 'SIGKILL' && args.signal !== 'SIGTERM') fail(`--signal must be SIGKILL or SIGTERM (got ${JSON.stringify(args.signal)})`, USAGE);
const seconds = numberArg('seconds', args.seconds, { min: 5, max: 3600 });
const every = numberArg('every', args.every, { min: 0, max: 60 });

const BUCKETS = ['users', 'samples', 'models', 'cameras', 'tokens', 'webhooks', 'faces', 'settings'].map((b) => `iex-probe-${b}`);
const JS_TIMEOUT_MS = 5000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => (args.json ? process.stderr : process.stdout).write(`${line}\n`);

async function main(): Promise<void> {
  const cluster = await startNatsCluster();
  try {
    await cluster.ready();
    const nc = await connect({ servers: cluster.urls.split(','), timeout: JS_TIMEOUT_MS, maxReconnectAttempts: -1, reconnectTimeWait: 1000 });
    const kvm = new Kvm(nc); // as the node's link: nats.js' default JetStream timeout, 5 s
    for (const bucket of BUCKETS) {
      for (let attempt = 1; ; attempt++) {
        try {
          const kv = await kvm.create(bucket, { replicas: 3, history: 1 });
          for (let i = 0; i < 10; i++) await kv.put(`k${i}`, new TextEncoder().encode(`v${i}`));
          break;
        } catch (e) {
          if (attempt >= 20) throw e;
          await sleep(500);
        }
      }
    }
    const watches = [];
    for (let node = 0; node < 3; node++) for (const bucket of BUCKETS) watches.push(await (await kvm.open(bucket)).watch());
    await sleep(3000);
    const meta = cluster.servers.findIndex((s) => /Self is new JetStream cluster metadata leader/.test(s.log()));
    const victim = args.kill === 'meta' ? Math.max(meta, 0) : (Math.max(meta, 0) + 1) % cluster.servers.length;
    say(`meta leader: ${cluster.servers[meta]?.name ?? 'unknown'}; stopping ${cluster.servers[victim].name} with ${args.signal}`);
    const stoppedAt = Date.now();
    await cluster.servers[victim].kill(args.signal as NodeJS.Signals);
    const tries: { at: number; ok: boolean }[] = [];
    let cleanRounds = 0;
    let recoveredAt: number | null = null;
    while (Date.now() - stoppedAt < seconds * 1000) {
      const round: string[] = [];
      let allOk = true;
      for (const bucket of BUCKETS) {
        const t = Date.now();
        try {
          const kv = await kvm.create(bucket, { replicas: 3, history: 1 });
          let n = 0;
          for await (const _ of await kv.keys()) n++;
          round.push(`ok(${n}) ${Date.now() - t}ms`);
          tries.push({ at: t - stoppedAt, ok: true });
        } catch (e) {
          allOk = false;
          round.push(`${(e as Error).name === 'TimeoutError' || /timeout/i.test((e as Error).message) ? 'timeout' : (e as Error).message.slice(0, 40)} ${Date.now() - t}ms`);
          tries.push({ at: t - stoppedAt, ok: false });
        }
      }
      const roundStart = tries[tries.length - BUCKETS.length].at;
      cleanRounds = allOk ? cleanRounds + 1 : 0;
      if (!allOk) recoveredAt = null;
      else if (cleanRounds === 1) recoveredAt = roundStart;
      say(`${(roundStart / 1000).toFixed(1)} s: ${round.join(', ')}`);
      await sleep(every * 1000);
    }
    const perMinute: { minute: number; tries: number; timeouts: number; share: number }[] = [];
    for (const t of tries) {
      const m = Math.floor(t.at / 60_000);
      perMinute[m] ??= { minute: m + 1, tries: 0, timeouts: 0, share: 0 };
      perMinute[m].tries++;
      if (!t.ok) perMinute[m].timeouts++;
    }
    for (const m of perMinute) if (m) m.share = Math.round((m.timeouts / m.tries) * 1000) / 1000;
    const summary = {
      stopped: cluster.servers[victim].name,
      wasMetaLeader: victim === meta,
      signal: args.signal,
      seconds,
      tries: tries.length,
      timeouts: tries.filter((t) => !t.ok).length,
      perMinute: perMinute.filter(Boolean),
      // the start of the first of three all-ok rounds in a row that lasted to the end
      recoveredAfterS: cleanRounds >= 3 && recoveredAt !== null ? Math.round(recoveredAt / 100) / 10 : null,
    };
    for (const w of watches) w.stop();
    await nc.close();
    if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else say(JSON.stringify(summary, null, 2));
  } finally {
    await cluster.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`probe failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
