/**
 * Just enough of the ONNX protobuf format (onnx/onnx.proto3) to
 *   - build the head's forward graph with its weights as inputs (one session serves every user's head), and
 *   - locate initializers' raw_data in an exported model, so a personal head can be written over the general one's
 *     bytes in place (same shapes = same byte lengths: the rest of the file is untouched).
 * No protobuf dependency: the wire format is varints and length-delimited fields.
 */

const enc = new TextEncoder();

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const fVarint = (field: number, n: number) => Uint8Array.from([...varint((field << 3) | 0), ...varint(n)]);
const fBytes = (field: number, bytes: Uint8Array) => concat([Uint8Array.from([...varint((field << 3) | 2), ...varint(bytes.length)]), bytes]);
const fString = (field: number, s: string) => fBytes(field, enc.encode(s));

const FLOAT = 1;

function valueInfo(name: string, dims: (number | string)[]): Uint8Array {
  const dimMsgs = dims.map((d) => fBytes(1, typeof d === 'number' ? fVarint(1, d) : fString(2, d)));
  const shape = fBytes(2, concat(dimMsgs));
  const tensorType = concat([fVarint(1, FLOAT), shape]);
  return concat([fString(1, name), fBytes(2, fBytes(1, tensorType))]);
}

function node(op: string, inputs: string[], outputs: string[], name: string, intAttrs: Record<string, number> = {}): Uint8Array {
  const attrs = Object.entries(intAttrs).map(([k, v]) => fBytes(5, concat([fString(1, k), fVarint(3, v), fVarint(20, 2 /* INT */)])));
  return concat([...inputs.map((i) => fString(1, i)), ...outputs.map((o) => fString(2, o)), fString(3, name), fString(4, op), ...attrs]);
}

/** logits = Gemm(Relu(Gemm(features, fc1.weight^T, fc1.bias)), fc2.weight^T, fc2.bias); all five are inputs. */
export function buildHeadForwardModel(features = 2048, hidden = 1024, classes = 7): Uint8Array {
  const nodes = [
    node('Gemm', ['features', 'fc1.weight', 'fc1.bias'], ['z1'], 'fc1', { transB: 1 }),
    node('Relu', ['z1'], ['h'], 'relu'),
    node('Gemm', ['h', 'fc2.weight', 'fc2.bias'], ['logits'], 'fc2', { transB: 1 }),
  ];
  const inputs = [
    valueInfo('features', ['N', features]),
    valueInfo('fc1.weight', [hidden, features]),
    valueInfo('fc1.bias', [hidden]),
    valueInfo('fc2.weight', [classes, hidden]),
    valueInfo('fc2.bias', [classes]),
  ];
  const graph = concat([
    ...nodes.map((n) => fBytes(1, n)),
    fString(2, 'head_forward'),
    ...inputs.map((i) => fBytes(11, i)),
    fBytes(12, valueInfo('logits', ['N', classes])),
  ]);
  const opset = concat([fString(1, ''), fVarint(2, 17)]);
  return concat([fVarint(1, 8 /* ir_version */), fString(2, 'iexpressionnet'), fBytes(7, graph), fBytes(8, opset)]);
}

// ---- reading ----------------------------------------------------------------------------------------------------

interface Field {
  field: number;
  wire: number;
  /** varint value (wire 0) */
  value: number;
  /** payload offset/length (wire 2) */
  start: number;
  end: number;
}

function* fields(buf: Uint8Array, start: number, end: number): Generator<Field> {
  let o = start;
  const readVarint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (o >= end) throw new Error('onnx: truncated varint');
      const b = buf[o++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 0x80;
    }
  };
  while (o < end) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      yield { field, wire, value: readVarint(), start: o, end: o };
    } else if (wire === 2) {
      const len = readVarint();
      const s = o;
      o += len;
      if (o > end) throw new Error('onnx: truncated field');
      yield { field, wire, value: len, start: s, end: o };
    } else if (wire === 5) {
      o += 4;
      yield { field, wire, value: 0, start: o - 4, end: o };
    } else if (wire === 1) {
      o += 8;
      yield { field, wire, value: 0, start: o - 8, end: o };
    } else {
      throw new Error(`onnx: unsupported wire type ${wire}`);
    }
  }
}

export interface InitializerLocation {
  name: string;
  dims: number[];
  dataType: number;
  /** absolute byte range of raw_data in the model buffer */
  rawStart: number;
  rawEnd: number;
}

const dec = new TextDecoder();

/** Initializers of a ModelProto that carry raw_data, with where their bytes sit. */
export function locateInitializers(model: Uint8Array): Map<string, InitializerLocation> {
  const out = new Map<string, InitializerLocation>();
  for (const top of fields(model, 0, model.length)) {
    if (top.field !== 7 || top.wire !== 2) continue; // ModelProto.graph
    for (const g of fields(model, top.start, top.end)) {
      if (g.field !== 5 || g.wire !== 2) continue; // GraphProto.initializer
      const t: Partial<InitializerLocation> & { dims: number[] } = { dims: [] };
      for (const f of fields(model, g.start, g.end)) {
        if (f.field === 1 && f.wire === 0) t.dims.push(f.value);
        if (f.field === 1 && f.wire === 2) t.dims.push(...packedVarints(model, f.start, f.end));
        else if (f.field === 2 && f.wire === 0) t.dataType = f.value;
        else if (f.field === 8 && f.wire === 2) t.name = dec.decode(model.subarray(f.start, f.end));
        else if (f.field === 9 && f.wire === 2) {
          t.rawStart = f.start;
          t.rawEnd = f.end;
        }
      }
      if (t.name !== undefined && t.rawStart !== undefined) out.set(t.name, t as InitializerLocation);
    }
  }
  return out;
}

function packedVarints(buf: Uint8Array, start: number, end: number): number[] {
  const out: number[] = [];
  let o = start;
  while (o < end) {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = buf[o++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 0x80;
    }
    out.push(result);
  }
  return out;
}
