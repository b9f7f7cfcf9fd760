import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config';
import { inferenceWorkers } from '../inference.module';
import { splitEven } from './inference.pool';

describe('splitEven', () => {
  it('cuts a batch into contiguous parts whose sizes differ by at most one', () => {
    expect(splitEven([1, 2, 3, 4, 5], 2)).toEqual([[1, 2, 3], [4, 5]]);
    expect(splitEven([1, 2, 3, 4, 5, 6, 7, 8], 3)).toEqual([[1, 2, 3], [4, 5, 6], [7, 8]]);
    expect(splitEven([1], 4)).toEqual([[1]]);
    expect(splitEven([1, 2], 1)).toEqual([[1, 2]]);
  });
});

describe('INFERENCE_WORKERS', () => {
  it('auto is one worker per core up to 4 on cpu and 1 on a GPU provider; a number is taken as is', () => {
    expect(inferenceWorkers({ INFERENCE_WORKERS: 'auto', EXECUTION_PROVIDER: 'cpu' }, 2)).toBe(2);
    expect(inferenceWorkers({ INFERENCE_WORKERS: 'auto', EXECUTION_PROVIDER: 'cpu' }, 16)).toBe(4);
    expect(inferenceWorkers({ INFERENCE_WORKERS: 'auto', EXECUTION_PROVIDER: 'cuda' }, 16)).toBe(1);
    expect(inferenceWorkers({ INFERENCE_WORKERS: 3, EXECUTION_PROVIDER: 'cpu' }, 2)).toBe(3);
    expect(loadConfig({ INFERENCE_WORKERS: '0' }).INFERENCE_WORKERS).toBe(0);
    expect(loadConfig({}).INFERENCE_WORKERS).toBe('auto');
    expect(() => loadConfig({ INFERENCE_WORKERS: 'many' })).toThrow(/INFERENCE_WORKERS/);
  });
});
