import { HEAD_PARAMS, HeadWeights } from '../finetune/head-weights';
import { locateInitializers } from './onnx-proto';

export class OnnxExportError extends Error {}

/**
 * A standalone model = the general trunk+head (expression.onnx) with the head's initializers overwritten by a user's
 * weights. The initializers are stored as raw_data of the same shape, so their bytes are replaced in place and the
 * rest of the file (graph, trunk weights, metadata) is byte-for-byte the general model's.
 * Initializers are found by name suffix (`head.fc1.weight` or `fc1.weight`) and must have the head's shapes.
 */
export function exportPersonalModel(expressionOnnx: Uint8Array, weights: HeadWeights): Uint8Array {
  const inits = locateInitializers(expressionOnnx);
  const out = new Uint8Array(expressionOnnx);
  for (const p of HEAD_PARAMS) {
    const hit = [...inits.values()].filter((i) => i.name === p.name || i.name.endsWith(`.${p.name}`));
    if (hit.length !== 1) throw new OnnxExportError(`expression model: ${hit.length} initializers named *${p.name}`);
    const loc = hit[0];
    if (loc.dataType !== 1 || loc.dims.join('x') !== p.dims.join('x')) {
      throw new OnnxExportError(`expression model: ${loc.name} is type ${loc.dataType} [${loc.dims}], expected float [${p.dims}]`);
    }
    const src = weights[p.name];
    if (loc.rawEnd - loc.rawStart !== src.byteLength) throw new OnnxExportError(`${loc.name}: raw_data size mismatch`);
    // ONNX raw_data is little-endian, as is every platform Node's onnxruntime ships for
    out.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), loc.rawStart);
  }
  return out;
}
