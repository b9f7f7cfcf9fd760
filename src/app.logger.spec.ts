import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppLogger, levelsFrom } from './app.logger';
import { startupBanner } from './startup-banner';

function captureStdout(): { text: () => string } {
  const chunks: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  });
  return { text: () => chunks.join('') };
}

describe('AppLogger', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints route mapping only when debug is enabled', () => {
    const out = captureStdout();
    const atLog = new AppLogger({ logLevels: levelsFrom('log'), colors: false });
    atLog.log('Mapped {/api/users, GET} route', 'RouterExplorer');
    atLog.log('UsersController {/api/users}:', 'RoutesResolver');
    atLog.log('loaded head.onnx on cpu', 'OrtSessionFactory');
    expect(out.text()).not.toContain('Mapped');
    expect(out.text()).not.toContain('UsersController');
    expect(out.text()).toContain('loaded head.onnx on cpu');

    const atDebug = new AppLogger({ logLevels: levelsFrom('debug'), colors: false });
    atDebug.log('Mapped {/api/users, GET} route', 'RouterExplorer');
    expect(out.text()).toMatch(/DEBUG.*\[RouterExplorer\] Mapped \{\/api\/users, GET\} route/);
  });

  it('demotes the same lines when they come through a Nest Logger with its own context', () => {
    const out = captureStdout();
    Logger.overrideLogger(new AppLogger({ logLevels: levelsFrom('log'), colors: false }));
    try {
      new Logger('RouterExplorer').log('Mapped {/api/cameras, POST} route');
      new Logger('Pipeline').log('pipeline started');
    } finally {
      Logger.overrideLogger(new AppLogger({ logLevels: levelsFrom('log') }));
    }
    expect(out.text()).not.toContain('Mapped');
    expect(out.text()).toContain('pipeline started');
  });

  it('levelsFrom lists the level and every more severe one', () => {
    expect(levelsFrom('error')).toEqual(['error']);
    expect(levelsFrom('log')).toEqual(['error', 'warn', 'log']);
    expect(levelsFrom('verbose')).toHaveLength(5);
  });
});

describe('startupBanner', () => {
  const base = { version: '0.1.0', url: 'http://127.0.0.1:3000', dashboard: 'served' as const, dataDir: '/srv/iex/data' };

  it('names dashboard, WebSocket, API docs, auth mode and data directory; starts with the listening line', () => {
    const text = startupBanner({ ...base, auth: { envTokens: false, storedTokens: 0 } });
    const lines = text.split('\n');
    expect(lines[0]).toBe('iExpressionNet 0.1.0 listening on http://127.0.0.1:3000');
    expect(text).toContain('dashboard  http://127.0.0.1:3000/');
    expect(text).toContain('WebSocket  ws://127.0.0.1:3000/ws');
    expect(text).toContain('API docs   http://127.0.0.1:3000/api/docs');
    expect(text).toMatch(/auth {7}open to loopback clients, no token/);
    expect(text).toContain('data       /srv/iex/data');
  });

  it('says tokens are required and where they come from', () => {
    const text = startupBanner({ ...base, dashboard: 'not built', auth: { envTokens: true, storedTokens: 2 } });
    expect(text).toContain('tokens required (environment, 2 stored)');
    expect(text).toContain('dashboard  not built: run `npm run build`');
  });
});
