import 'reflect-metadata';
import { Logger, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AppModule } from './app.module';
import { checkBinding, UnsafeBindingError } from './auth/binding';
import { TokenStore } from './auth/token.store';
import { ConfigError, loadConfig } from './config';
import { configureHttpEdge, HTTP_EDGE_OPTIONS } from './delivery/http-edge';
import { setupOpenApi } from './delivery/openapi';
import { GatewayWsAdapter } from './delivery/ws.adapter';
import { SqliteDatabase } from './storage/database';

/** Hard limit of a graceful shutdown (SIGTERM/SIGINT); below the 10 s that supervisors commonly wait before SIGKILL. */
const SHUTDOWN_DEADLINE_MS = 8000;

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const logger = new Logger('iExpressionNet');
  const levels = ['error', 'warn', 'log', 'debug', 'verbose'] as const;
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    ...HTTP_EDGE_OPTIONS,
    logger: levels.slice(0, levels.indexOf(config.LOG_LEVEL) + 1) as LogLevel[],
  });
  // No token anywhere -> loopback only; said at startup, refused before listening elsewhere.
  try {
    const line = checkBinding({
      host: config.HOST,
      envTokens: Boolean(config.ADMIN_TOKEN || config.READ_TOKEN),
      storedTokens: new TokenStore(app.get(SqliteDatabase)).count(),
    });
    logger.log(line);
  } catch (err) {
    if (err instanceof UnsafeBindingError) {
      console.error(err.message);
      await app.close();
      process.exit(2);
    }
    throw err;
  }
  configureHttpEdge(app);
  app.useWebSocketAdapter(new GatewayWsAdapter(app));
  setupOpenApi(app);
  const dashboard = join(__dirname, '..', 'clients', 'dashboard', 'dist');
  if (config.SERVE_DASHBOARD) {
    if (existsSync(join(dashboard, 'index.html'))) app.useStaticAssets(dashboard, { index: 'index.html' });
    else logger.warn(`dashboard not built (${dashboard} missing): run \`npm run build\``);
  }
  // Nest's default re-raises the signal after its hooks, so a clean stop ended by SIGTERM (status 143) or, when a
  // child-process signal listener was installed, 0: a race. useProcessExit makes a clean shutdown exit 0, a failed one 1.
  app.enableShutdownHooks([], { useProcessExit: true });
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      // A hook that hangs (a stuck child, a socket that never drains) must not keep a supervisor waiting:
      // exit 1 after SHUTDOWN_DEADLINE_MS; the 'exit' handlers still SIGKILL every ffmpeg child.
      setTimeout(() => {
        logger.error(`shutdown took over ${SHUTDOWN_DEADLINE_MS} ms: exiting now`);
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS).unref();
    });
  }
  await app.listen(config.PORT, config.HOST);
  const url = (await app.getUrl()).replace('[::1]', 'localhost');
  logger.log(`listening on ${url} (dashboard ${url}/)`);
  logger.log(`WebSocket ${url.replace(/^http/, 'ws')}/ws · API docs ${url}/api/docs · metrics ${url}/metrics`);
}

void bootstrap();
