import { LaidOutModel, loadLaidOutModel, overwriteHead } from '../../inference/heads/head-layout';
import { HEAD_PARAMS, HeadWeights } from '../../inference/heads/head-shape';

/** expression.onnx with the layout of its head initializers, checked against the file (sha256 and length). */
export function loadExpressionModel(expressionOnnxPath: string): Promise<LaidOutModel> {
  return loadLaidOutModel(expressionOnnxPath, HEAD_PARAMS);
}

/**
 * A standalone model = the general trunk+head (expression.onnx) with the head's initializers overwritten by a user's
 * weights. The initializers are stored as raw_data of the same shape, so their bytes are replaced in place and the
 * rest of the file (graph, trunk weights, metadata) is byte-for-byte the general model's. Where those bytes are comes
 * from expression.head-layout.json, written by the Python build with the onnx library (scripts/fer/onnx_layout.py).
 */
export function exportPersonalModel(expression: LaidOutModel, weights: HeadWeights): Uint8Array {
  return overwriteHead(expression, weights, HEAD_PARAMS);
}
