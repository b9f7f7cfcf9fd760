/**
 * bench:pipeline --integrations compare: the webhook receiver, in a process of its own. A real receiver runs on another
 * machine; in the bench's process its work (accepting a connection per delivery, parsing, answering) would be counted
 * against the pipeline. It checks every delivery with the verification snippet of docs/INTEGRATIONS.md, so the bench
 * reports deliveries that a user's receiver would accept, not only requests.
 *
 * Started by the bench with fork(); messages over the IPC channel:
 *   child → bench  { type: 'ready', url }                           listening on 127.0.0.1:0
 *   bench → child  { type: 'expect', secret }                        a new run: counts start at 0, bodies signed with this
 *   bench → child  { type: 'count' }  →  { type: 'count', received, verified }
 * It exits when the bench disconnects (or dies).
 */
import { documentedVerify, startWebhookReceiver } from '../../test/support/webhook-receiver';

export type ReceiverRequest = { type: 'expect'; secret: string } | { type: 'count' };
export type ReceiverReply = { type: 'ready'; url: string } | { type: 'count'; received: number; verified: number };

async function main(): Promise<void> {
  if (!process.send) throw new Error('scripts/bench/webhook-receiver.ts is started by bench:pipeline (fork), not by hand');
  const send = (m: ReceiverReply) => process.send!(m);
  const verify = documentedVerify();
  let secret = '';
  let received = 0;
  let verified = 0;
  let seen = new Set<string>();
  const receiver = await startWebhookReceiver((hook, _n, res) => {
    received++;
    try {
      verify(secret, hook.headers, hook.raw, seen);
      verified++;
    } catch {
      // counted as received, not verified: the bench prints both
    }
    res.writeHead(204).end();
  });
  // The receiver keeps every request for tests; here only the counts matter, so memory stays flat over long runs.
  const keep = setInterval(() => receiver.got.splice(0), 1000);
  process.on('message', (m: ReceiverRequest) => {
    if (m.type === 'expect') {
      secret = m.secret;
      received = 0;
      verified = 0;
      seen = new Set();
    } else if (m.type === 'count') send({ type: 'count', received, verified });
  });
  process.on('disconnect', () => {
    clearInterval(keep);
    void receiver.close().then(() => process.exit(0));
  });
  send({ type: 'ready', url: receiver.url });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
