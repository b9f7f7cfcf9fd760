import { Inject, Injectable, Logger } from '@nestjs/common';
import * as ort from 'onnxruntime-node';
import { CONFIG, Config } from '../config';

/** A float32 tensor as plain data: what services exchange with a session, so tests can fake sessions without ORT. */
export interface TensorData {
  data: Float32Array;
  dims: readonly number[];
}

/** One loaded model. The only surface of ONNX Runtime that services see. */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>>;
  release(): Promise<void>;
}

export type ExecutionProviderName = Config['EXECUTION_PROVIDER'];

export class ExecutionProviderError extends Error {}

const INSTALL_HINT: Partial<Record<ExecutionProviderName, string>> = {
  cuda: 'fetch its provider files with `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js` (npm ci skips that download) and make CUDA 12 + cuDNN 9 visible to the loader',
  tensorrt: 'fetch its provider files with `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js` (npm ci skips that download) and install TensorRT 10',
  webgpu: 'needs a GPU and the Vulkan loader (libvulkan.so.1) on Linux',
};

/** Names ORT reports for this binary; `bundled: false` backends still need their provider library at run time. */
export function supportedBackends(): string[] {
  return ort.listSupportedBackends().map((b) => b.name);
}

/**
 * Creates ONNX Runtime sessions on the configured execution provider. No silent CPU fallback: a requested provider
 * that cannot start is an error naming it, so a GPU deployment never runs on CPU without anyone noticing.
 */
@Injectable()
export class OrtSessionFactory {
  private readonly logger = new Logger('OrtSessionFactory');
  private readonly provider: ExecutionProviderName;
  private readonly intraOpThreads: number;
  private readonly allowSpinning: boolean;
  private readonly quiet: boolean;

  /** `quiet`: do not log each loaded model (inference workers load the same models the main thread reports once). */
  constructor(@Inject(CONFIG) config: Pick<Config, 'EXECUTION_PROVIDER' | 'ORT_THREADS'> & { ORT_SPIN?: boolean; quiet?: boolean }) {
    this.provider = config.EXECUTION_PROVIDER;
    this.quiet = config.quiet ?? false;
    this.intraOpThreads = config.ORT_THREADS;
    this.allowSpinning = config.ORT_SPIN ?? false;
    if (!supportedBackends().includes(this.provider)) {
      throw new ExecutionProviderError(
        `EXECUTION_PROVIDER=${this.provider} is not supported by this onnxruntime-node build (supported: ${supportedBackends().join(', ')})`,
      );
    }
  }

  get executionProvider(): ExecutionProviderName {
    return this.provider;
  }

  async create(path: string): Promise<ModelSession> {
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: [this.provider],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      // 0 lets ORT use every core; on a small shared machine 1 leaves a core for decode, crops and the event loop.
      intraOpNumThreads: this.intraOpThreads,
      interOpNumThreads: 1,
      // Idle ORT worker threads spin by default: on a shared or small machine that burns the cores the event loop
      // (letterbox, crops) needs. Spinning off costs a little latency per run and saves a core.
      extra: { session: { intra_op: { allow_spinning: this.allowSpinning ? '1' : '0' }, inter_op: { allow_spinning: '0' } } },
    };
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(path, options);
    } catch (err) {
      const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
      if (this.provider === 'cpu') throw new Error(`cannot load model ${path}: ${reason}`, { cause: err });
      const hint = INSTALL_HINT[this.provider] ?? '';
      throw new ExecutionProviderError(
        `EXECUTION_PROVIDER=${this.provider} is unavailable on this machine (${reason})${hint ? `; ${hint}` : ''}. Use EXECUTION_PROVIDER=cpu to run on the CPU.`,
        { cause: err },
      );
    }
    if (!this.quiet) this.logger.log(`loaded ${path} on ${this.provider}`);
    return new OrtModelSession(session);
  }
}

class OrtModelSession implements ModelSession {
  constructor(private readonly session: ort.InferenceSession) {}
  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }
  async run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) tensors[name] = new ort.Tensor('float32', t.data, t.dims);
    const out = await this.session.run(tensors);
    const result: Record<string, TensorData> = {};
    for (const [name, t] of Object.entries(out)) result[name] = { data: t.data as Float32Array, dims: t.dims };
    return result;
  }
  release(): Promise<void> {
    return this.session.release();
  }
}
