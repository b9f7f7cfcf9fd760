import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Public } from '../auth/auth.decorators';

/** The version in the nearest package.json above this file (src/ in dev, dist/… when built). */
function packageVersion(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'iexpressionnet' && pkg.version) return pkg.version;
    } catch {
      // not here; go up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

export const VERSION = packageVersion();

@ApiTags('health')
@Controller('api/health')
export class HealthController {
  /** Minimal on purpose: no token needed, so it says nothing about cameras or users. */
  @Get()
  @Public()
  @ApiOperation({ summary: 'Liveness: ok, version, uptime in seconds (no token needed)' })
  health(): { ok: true; version: string; uptime: number } {
    return { ok: true, version: VERSION, uptime: Math.round(process.uptime()) };
  }
}
