import { OrtSessionFactory } from '../../src/inference/ort.sessions';

/** The factory specs load models through: cpu, `threads` intra-op threads, quiet (no "loaded …" log per model). */
export function cpuFactory(threads = 1, spin?: boolean): OrtSessionFactory {
  return new OrtSessionFactory({ EXECUTION_PROVIDER: 'cpu', ORT_THREADS: threads, ORT_SPIN: spin, quiet: true });
}
