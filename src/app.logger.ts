import { ConsoleLogger, LogLevel } from '@nestjs/common';

/**
 * Nest's own start-up chatter: one line per module, controller and route (~50 at `log`), which buried the listening
 * URL. Those contexts are logged at `debug` instead, so `LOG_LEVEL=debug` still shows the route map.
 */
export const QUIET_CONTEXTS: ReadonlySet<string> = new Set(['RouterExplorer', 'RoutesResolver', 'InstanceLoader', 'NestFactory', 'NestApplication']);

const LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const;

/** The levels at and above `least` (the LOG_LEVEL setting: least severe level printed). */
export function levelsFrom(least: (typeof LEVELS)[number]): LogLevel[] {
  return LEVELS.slice(0, LEVELS.indexOf(least) + 1) as LogLevel[];
}

export class AppLogger extends ConsoleLogger {
  override log(message: unknown, ...rest: unknown[]): void {
    // Nest passes the context as the last argument (or the logger was created with one).
    const context = rest.length && typeof rest[rest.length - 1] === 'string' ? rest[rest.length - 1] : this.context;
    if (typeof context === 'string' && QUIET_CONTEXTS.has(context)) this.debug(message, ...rest);
    else super.log(message, ...rest);
  }
}
