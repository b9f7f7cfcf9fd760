import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HeadLayoutError, headLayoutPath, overwriteHead, parseHeadLayout, verifyModelBytes } from './head-layout';

const PARAMS = [
  { name: 'fc1.weight', dims: [2, 3] },
  { name: 'fc1.bias', dims: [2] },
] as const;

/** A 64-byte "model" with fc1.weight's 24 bytes at 10 and fc1.bias's 8 bytes at 40. */
function fixture() {
  const bytes = Uint8Array.from({ length: 64 }, (_, i) => i);
  const json = {
    format: 1,
    model: 'm.onnx',
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: 64,
    dtype: 'float32',
    byteOrder: 'little',
    params: {
      'fc1.weight': { initializer: 'head.fc1.weight', dims: [2, 3], offset: 10, length: 24 },
      'fc1.bias': { initializer: 'head.fc1.bias', dims: [2], offset: 40, length: 8 },
    },
  };
  return { bytes, json };
}

describe('head layout', () => {
  it('sits next to the model', () => {
    expect(headLayoutPath('/m/general/expression.onnx')).toBe('/m/general/expression.head-layout.json');
  });

  it('overwrites exactly the byte ranges of the parameters and nothing else', () => {
    const { bytes, json } = fixture();
    const layout = parseHeadLayout(json, PARAMS);
    verifyModelBytes(bytes, layout);
    const weights = { 'fc1.weight': Float32Array.of(1, 2, 3, 4, 5, 6), 'fc1.bias': Float32Array.of(-1, -2) };
    const out = overwriteHead({ bytes, layout }, weights, PARAMS);
    expect(Array.from(new Float32Array(out.slice(10, 34).buffer))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(new Float32Array(out.slice(40, 48).buffer))).toEqual([-1, -2]);
    const untouched = [...Array(64).keys()].filter((i) => !(i >= 10 && i < 34) && !(i >= 40 && i < 48));
    for (const i of untouched) expect(out[i]).toBe(i);
    expect(bytes[10]).toBe(10); // the general model's bytes are not modified
  });

  it('a model that changed since the layout was written is refused with the command that fixes it', () => {
    const { bytes, json } = fixture();
    const layout = parseHeadLayout(json, PARAMS);
    const edited = bytes.slice();
    edited[0] ^= 1;
    expect(() => verifyModelBytes(edited, layout, 'expression.onnx')).toThrow(
      /expression.onnx changed since its head layout was written \(sha256 .*build_head_train_graph\.py/,
    );
    expect(() => verifyModelBytes(bytes.subarray(0, 63), layout)).toThrow(/63 bytes, layout says 64/);
    expect(() => verifyModelBytes(edited, layout)).toThrow(HeadLayoutError);
  });

  it('refuses layouts that do not fit the parameters or the file', () => {
    const bad = (edit: (j: ReturnType<typeof fixture>['json']) => void) => {
      const { json } = fixture();
      edit(json);
      return () => parseHeadLayout(json, PARAMS, 'x.head-layout.json');
    };
    expect(bad((j) => delete (j.params as Record<string, unknown>)['fc1.bias'])).toThrow(/x.head-layout.json: no entry for fc1.bias; run/);
    expect(bad((j) => (j.params['fc1.weight'].dims = [3, 2]))).toThrow(/fc1.weight is \[3,2\], expected \[2,3\]/);
    expect(bad((j) => (j.params['fc1.bias'].length = 4))).toThrow(/fc1.bias spans 4 bytes, expected 8/);
    expect(bad((j) => (j.params['fc1.bias'].offset = 60))).toThrow(/fc1.bias ends past the model's 64 bytes/);
    expect(bad((j) => (j.params['fc1.bias'].offset = 30))).toThrow(/fc1.weight and fc1.bias overlap/);
    expect(bad((j) => (j.format = 2))).toThrow(/not a head layout \(format: /);
    expect(bad((j) => (j.sha256 = 'abc'))).toThrow(/sha256/);
  });

  it('refuses weights of the wrong size', () => {
    const { bytes, json } = fixture();
    const model = { bytes, layout: parseHeadLayout(json, PARAMS) };
    expect(() => overwriteHead(model, { 'fc1.weight': new Float32Array(5), 'fc1.bias': new Float32Array(2) }, PARAMS)).toThrow(
      /fc1.weight: 20 bytes of weights for a 24-byte range/,
    );
  });
});
