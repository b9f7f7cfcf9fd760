import { CodedError } from '../../contracts/errors';

/**
 * A clustered node's start-up needed JetStream and JetStream did not answer within the start-up budget (NATS down, or
 * its streams without a leader for that long): the node stops with this message and exit code 2 (src/main.ts).
 */
export class ClusterStartupError extends CodedError {
  constructor(what: string, servers: string, budgetMs: number, reason: string) {
    super(
      'unavailable',
      `cannot join the cluster: ${what}: JetStream at ${servers} (NATS_URL) did not answer within ${Math.round(budgetMs / 1000)} s: ${reason}`,
    );
  }
}

export interface StartupRetryOptions {
  /** The NATS servers, credentials removed (for the messages). */
  servers: string;
  /** How long the steps may go without one of them succeeding (ms): from the first step, then from each success. */
  totalMs?: number;
  /** First wait between tries (ms); doubles up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  warn: (message: string) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** The start-up budget: how long a node waits for JetStream to answer a step before it gives up. */
export const STARTUP_BUDGET_MS = 60_000;

/**
 * Runs the start-up steps that need JetStream (open a bucket, load it, start its watch, open the object store) with
 * bounded retries: right after a NATS server died or the whole NATS cluster restarted, streams elect their leaders and
 * JetStream requests time out for a while. Each failure is logged with what the node waits for; the waits grow from
 * baseDelayMs to maxDelayMs. The budget (totalMs) runs from the first step and starts again after each step that
 * succeeds: a node gives up when JetStream has answered no step for that long (so the whole start-up is bounded by
 * steps × budget), not when a slow but progressing recovery — after a NATS server died, an R1 consumer may be placed
 * on the dead peer and time out, a retry places it elsewhere — has used a minute in all. Past it the step's last error
 * becomes a ClusterStartupError naming the step and NATS_URL.
 */
export class StartupRetry {
  /** The first step's start, then the last success. */
  private progressAt: number | null = null;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: StartupRetryOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  get totalMs(): number {
    return this.options.totalMs ?? STARTUP_BUDGET_MS;
  }

  /** `step` until it resolves; `what` names what the node waits for ("bucket iex-state-users"). */
  async run<T>(what: string, step: () => Promise<T>): Promise<T> {
    this.progressAt ??= this.now();
    const deadline = this.progressAt + this.totalMs;
    let delay = this.options.baseDelayMs ?? 250;
    for (let attempt = 1; ; attempt++) {
      try {
        const value = await step();
        this.progressAt = this.now();
        return value;
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        const left = deadline - this.now();
        if (left <= 0) throw new ClusterStartupError(what, this.options.servers, this.totalMs, reason);
        const wait = Math.min(delay, left);
        this.options.warn(`waiting for JetStream: ${what} failed (attempt ${attempt}: ${reason}); trying again in ${wait} ms (gives up ${Math.ceil(left / 1000)} s from now)`);
        await this.sleep(wait);
        delay = Math.min(delay * 2, this.options.maxDelayMs ?? 2000);
      }
    }
  }
}
