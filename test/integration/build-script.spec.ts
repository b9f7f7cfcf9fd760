import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dashboardStale } from '../../scripts/build';

describe('dashboardStale (npm start skips an up-to-date dashboard build)', () => {
  let root = '';
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function file(rel: string, mtimeS: number): void {
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, rel);
    utimesSync(path, mtimeS, mtimeS);
  }

  function builtAt(mtimeS: number, inputs: string[]): string {
    file('clients/dashboard/dist/index.html', mtimeS);
    const record = join(root, 'clients/dashboard/dist/.build-inputs.json');
    writeFileSync(record, JSON.stringify({ inputs }));
    utimesSync(record, mtimeS, mtimeS);
    return record;
  }

  function project(): void {
    root = mkdtempSync(join(tmpdir(), 'iex-build-'));
    for (const f of ['package-lock.json', 'clients/dashboard/vite.config.ts', 'clients/dashboard/index.html', 'clients/dashboard/src/app.tsx', 'src/contracts/messages.ts']) {
      file(f, 1000);
    }
  }

  it('is stale before the first build', () => {
    project();
    expect(dashboardStale(root, join(root, 'clients/dashboard/dist/.build-inputs.json'))).toBe('not built yet');
  });

  it('is up to date when no input is newer than the record', () => {
    project();
    const record = builtAt(2000, ['clients/dashboard/src/app.tsx', 'src/contracts/messages.ts']);
    expect(dashboardStale(root, record)).toBeNull();
  });

  it('is stale when a recorded input outside clients/ (the shared protocol) changed', () => {
    project();
    const record = builtAt(2000, ['clients/dashboard/src/app.tsx', 'src/contracts/messages.ts']);
    file('src/contracts/messages.ts', 3000);
    expect(dashboardStale(root, record)).toBe('src/contracts/messages.ts changed');
  });

  it('is stale when dependencies changed or an input is gone', () => {
    project();
    const record = builtAt(2000, ['clients/dashboard/src/app.tsx']);
    file('package-lock.json', 3000);
    expect(dashboardStale(root, record)).toBe('package-lock.json changed');
    file('package-lock.json', 1000);
    rmSync(join(root, 'clients/dashboard/src/app.tsx'));
    expect(dashboardStale(root, record)).toBe('clients/dashboard/src/app.tsx is gone');
  });
});
