/**
 * How like a user's calibration faces each face is, in the trunk's feature space (docs/PERSONALIZATION.md, "A likeness
 * gate"): per face, the largest cosine similarity between its features and those of any calibration face. Features are
 * row-major (n x dim, dim = features.length / n). A face or sample whose features are all zero has similarity 0.
 */
export function nearestLikeness(faces: Float32Array, nFaces: number, samples: Float32Array, nSamples: number): Float32Array {
  const out = new Float32Array(nFaces);
  if (nFaces === 0) return out;
  const dim = faces.length / nFaces;
  if (nSamples > 0 && samples.length / nSamples !== dim) {
    throw new Error(`faces have ${dim} features each, calibration samples ${samples.length / nSamples}`);
  }
  const sampleNorms = rowNorms(samples, nSamples, dim);
  const faceNorms = rowNorms(faces, nFaces, dim);
  for (let f = 0; f < nFaces; f++) {
    let best = nSamples ? -1 : 0;
    for (let s = 0; s < nSamples; s++) {
      const denominator = faceNorms[f] * sampleNorms[s];
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += faces[f * dim + k] * samples[s * dim + k];
      best = Math.max(best, denominator > 0 ? dot / denominator : 0);
    }
    out[f] = best;
  }
  return out;
}

function rowNorms(rows: Float32Array, n: number, dim: number): Float64Array {
  const norms = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let sum = 0;
    for (let k = 0; k < dim; k++) sum += rows[r * dim + k] ** 2;
    norms[r] = Math.sqrt(sum);
  }
  return norms;
}
