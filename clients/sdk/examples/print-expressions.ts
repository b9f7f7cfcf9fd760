// Prints every face's expression from one camera.
//   In this repository:   IEX_TOKEN=… npx tsx clients/sdk/examples/print-expressions.ts <camera-url>
//   From the package:     IEX_TOKEN=… node node_modules/@iexpressionnet/sdk/dist/examples/print-expressions.mjs <camera-url>
// IEX_URL is the server (default http://localhost:3000). The camera is added, watched, and removed on Ctrl-C.
import WebSocket from 'ws';
import { IExpressionClient } from '../src';

async function main(): Promise<void> {
  const client = new IExpressionClient({ url: process.env.IEX_URL ?? 'http://localhost:3000', token: process.env.IEX_TOKEN, WebSocket });
  await client.connect();
  console.log(`connected to ${client.url} (protocol ${client.hello?.protocol}, scope ${client.hello?.scope ?? 'none'})`);
  const { cameras } = await client.command('camera.list', {});
  console.log(`cameras: ${cameras.length === 0 ? 'none' : cameras.map((c) => `${c.id} ${c.name} ${c.status}`).join(', ')}`);
  const { camera } = await client.command('camera.add', { url: process.argv[2] ?? 'file:///videos/face.mp4', loop: true });
  console.log(`added camera ${camera.id} (${camera.url})`);
  process.once('SIGINT', () => {
    void client.command('camera.remove', { cameraId: camera.id }).finally(() => {
      client.close();
      process.exit(0);
    });
  });
  await client.subscribe({ cameras: [camera.id] });
  for await (const event of client.events()) {
    if (event.type === 'camera.status') console.log(`${event.cameraId} ${event.state}${event.reason ? `: ${event.reason}` : ''}`);
    if (event.type !== 'expression') continue;
    for (const face of event.faces) console.log(`${event.cameraId} #${face.trackId} ${face.label} ${face.scores[face.label].toFixed(2)}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exit(1);
});
