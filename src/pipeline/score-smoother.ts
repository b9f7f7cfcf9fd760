/**
 * Exponential smoothing of class probabilities per track: s = alpha * s_prev + (1 - alpha) * p.
 * A convex combination of distributions, so the result still sums to 1. alpha = 0 turns it off.
 */
export class ScoreSmoother {
  private readonly state = new Map<string, Float32Array>();

  constructor(private readonly alpha: number) {
    if (alpha < 0 || alpha >= 1) throw new RangeError('smoothing must be in [0, 1)');
  }

  /** Returns the smoothed copy of `probs` for this track and remembers it. */
  apply(key: string, probs: ArrayLike<number>): Float32Array {
    const out = Float32Array.from(probs);
    const prev = this.state.get(key);
    if (prev && this.alpha > 0) for (let i = 0; i < out.length; i++) out[i] = this.alpha * prev[i] + (1 - this.alpha) * out[i];
    if (this.alpha > 0) this.state.set(key, out);
    return out;
  }

  forget(key: string): void {
    this.state.delete(key);
  }

  get size(): number {
    return this.state.size;
  }
}
