import { Inject, Injectable, Logger } from '@nestjs/common';
import * as ort from 'onnxruntime-node';
import { CONFIG, Config } from '../config';
import { CodedError } from '../contracts/errors';

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

/**
 * The requested execution provider cannot run here (not in this onnxruntime-node build, or its libraries/device are
 * missing). Every model fails this same way, whichever room asked for it; code `unavailable` at the edge.
 */
export class ExecutionProviderError extends CodedError {
  override name = 'ExecutionProviderError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message, options);
  }
}

/** Per-session overrides of the factory's settings. */
export interface SessionOptions {
  /** intra-op threads (0 = one per core); default: the factory's ORT_THREADS */
  threads?: number;
  /** let idle intra-op threads spin; default: the factory's ORT_SPIN */
  spin?: boolean;
}

/** A model file, or a model's bytes. */
export type ModelSource = string | Uint8Array;

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

  /** A session as plain tensors in and out (what detector, trunk, general head and face embedder use). */
  async create(source: ModelSource, options: SessionOptions = {}): Promise<ModelSession> {
    return new OrtModelSession(await this.createRaw(source, options));
  }

  /**
   * The bound ORT session, for the heads that feed ORT tensors directly (HeadForward reuses a user's weight tensors
   * without a copy; HeadTrainStep writes into pre-allocated outputs). Same options and errors as create().
   */
  async createRaw(source: ModelSource, options: SessionOptions = {}): Promise<ort.InferenceSession> {
    const name = typeof source === 'string' ? source : `in-memory model (${source.byteLength} bytes)`;
    let session: ort.InferenceSession;
    try {
      session =
        typeof source === 'string'
          ? await ort.InferenceSession.create(source, this.options(options))
          : await ort.InferenceSession.create(source, this.options(options));
    } catch (err) {
      const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
      if (this.provider === 'cpu') throw new Error(`cannot load model ${name}: ${reason}`, { cause: err });
      const hint = INSTALL_HINT[this.provider] ?? '';
      throw new ExecutionProviderError(
        `EXECUTION_PROVIDER=${this.provider} is unavailable on this machine (${reason})${hint ? `; ${hint}` : ''}. Use EXECUTION_PROVIDER=cpu to run on the CPU.`,
        { cause: err },
      );
    }
    if (!this.quiet) this.logger.log(`loaded ${name} on ${this.provider}`);
    return session;
  }

  private options(options: SessionOptions): ort.InferenceSession.SessionOptions {
    const spin = options.spin ?? this.allowSpinning;
    return {
      executionProviders: [this.provider],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      // 0 lets ORT use every core; on a small shared machine 1 leaves a core for decode, crops and the event loop.
      intraOpNumThreads: options.threads ?? this.intraOpThreads,
      interOpNumThreads: 1,
      // Idle ORT worker threads spin by default: on a shared or small machine that burns the cores the event loop
      // (letterbox, crops) needs. Spinning off costs a little latency per run and saves a core. The fine-tune worker
      // turns it back on for its own sessions (docs/PERSONALIZATION.md).
      extra: { session: { intra_op: { allow_spinning: spin ? '1' : '0' }, inter_op: { allow_spinning: '0' } } },
    };
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
