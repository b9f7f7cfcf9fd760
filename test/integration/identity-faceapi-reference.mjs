/* global process, fetch, performance, TextEncoder, TextDecoder */
// Reference descriptors from the original face-api (tfjs, pure-JS cpu backend) for the ONNX parity test
// (test/integration/identity-embedding.spec.ts). Runs in its own Node process because face-api's browser ESM bundle has to be
// imported with Node detection hidden (its Node platform shim needs util.TextEncoder, which the bundle stubs out).
// Usage: node test/integration/identity-faceapi-reference.mjs <crops.f32> <count>   (float32 [count,150,150,3] RGB 0..255)
// Prints one JSON array of `count` descriptors (face-api's raw 128-d output).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [file, countArg] = process.argv.slice(2);
const count = Number(countArg);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules', '@vladmandic', 'face-api');

const versions = process.versions;
const hide = (value) => Object.defineProperty(process, 'versions', { value, configurable: true, writable: false, enumerable: true });
hide({});
let faceapi;
try {
  faceapi = await import(join(root, 'dist', 'face-api.esm.js'));
} finally {
  hide(versions);
}
const tf = faceapi.tf;
tf.env().setPlatform('plain-node', {
  fetch: (url, init) => fetch(url, init),
  now: () => performance.now(),
  encode: (text) => new TextEncoder().encode(text),
  decode: (bytes, encoding) => new TextDecoder(encoding).decode(bytes),
  isTypedArray: (a) => ArrayBuffer.isView(a) && !(a instanceof DataView),
});
faceapi.env.setEnv(faceapi.env.createNodejsEnv());
await tf.setBackend('cpu');
await tf.ready();

const manifest = JSON.parse(readFileSync(join(root, 'model', 'face_recognition_model-weights_manifest.json'), 'utf8'));
const bin = readFileSync(join(root, 'model', 'face_recognition_model.bin'));
const weightMap = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), manifest[0].weights);
faceapi.nets.faceRecognitionNet.loadFromWeightMap(weightMap);

const raw = readFileSync(file);
const pixels = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
if (pixels.length !== count * 150 * 150 * 3) throw new Error(`expected ${count} crops of 150x150x3, got ${pixels.length} floats`);
const out = [];
for (let i = 0; i < count; i++) {
  const img = tf.tensor3d(pixels.subarray(i * 67500, (i + 1) * 67500), [150, 150, 3], 'float32');
  const d = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(img);
  img.dispose();
  out.push(Array.from(d));
}
process.stdout.write(JSON.stringify(out));
