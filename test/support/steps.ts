/**
 * Named, timed steps for a long e2e test. A step that fails, or outlasts its own limit, throws naming the step, its
 * time and the times of the steps before it, where vitest's timeout would say only "Test timed out". Give the test a
 * timeout above the sum of its steps' limits, so a stuck step is reported by the step.
 */
export interface Steps {
  run<T>(name: string, limitMs: number, fn: () => Promise<T>): Promise<T>;
}

export function steps(): Steps {
  const done: string[] = [];
  return {
    async run(name, limitMs, fn) {
      const start = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`still running after ${limitMs} ms`)), limitMs);
      });
      try {
        const value = await Promise.race([fn(), limit]);
        done.push(`${name} ${Date.now() - start} ms`);
        return value;
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        throw new Error(`step "${name}" failed after ${Date.now() - start} ms (before it: ${done.join(', ') || 'nothing'}): ${message}`, { cause: e });
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
