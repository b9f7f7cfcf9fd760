// Prints every face's expression from one camera. Run: npx tsx clients/sdk/examples/print-expressions.ts <camera-url>
import WebSocket from 'ws';
import { IExpressionClient } from '../src';

async function main(): Promise<void> {
  const client = new IExpressionClient({ url: process.env.IEX_URL ?? 'http://localhost:3000', token: process.env.IEX_TOKEN, WebSocket });
  await client.connect();
  const { camera } = await client.command('camera.add', { url: process.argv[2] ?? 'file:///videos/face.mp4', loop: true });
  await client.subscribe({ cameras: [camera.id] });
  for await (const event of client.events('expression')) {
    if (event.type !== 'expression') continue;
    for (const face of event.faces) console.log(`${event.cameraId} #${face.trackId} ${face.label} ${face.scores[face.label].toFixed(2)}`);
  }
}
void main();
