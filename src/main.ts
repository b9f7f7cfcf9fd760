import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AppLogger, levelsFrom } from './app.logger';
import { AppModule } from './app.module';
import { checkBinding, UnsafeBindingError } from './auth/binding';
import { ClusterUnavailableError } from './cluster/cluster.errors';
import { ClusterMembership } from './cluster/membership';
import { ClusterJoin, joinCluster } from './cluster/cluster.module';
import { TokenStore } from './auth/token.store';
import { ConfigError, loadConfig } from './config';
import { configureHttpEdge, HTTP_EDGE_OPTIONS } from './delivery/http-edge';
import { VERSION } from './delivery/health.controller';
import { setupOpenApi } from './delivery/openapi';
import { GatewayWsAdapter } from './delivery/ws.adapter';
import { readOrCreateNodeId } from './storage/node-id';
import { ClusterStartupError } from './storage/replicated/startup-retry';
import { startupBanner } from './startup-banner';

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
  // NATS_URL set: join the cluster before building the app, so an unreachable NATS is one clear line and exit 2.
  let cluster: ClusterJoin | null;
  try {
    cluster = config.NATS_URL ? await joinCluster(config, config.NODE_ID ?? readOrCreateNodeId(config.dataDir)) : null;
  } catch (err) {
    if (err instanceof ClusterUnavailableError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  if (cluster) logger.log(`node ${cluster.nodeId} joined the cluster at ${cluster.link.servers}`);
  let app: NestExpressApplication;
  try {
    app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, { cluster }), {
      ...HTTP_EDGE_OPTIONS,
      // Route mapping and module wiring only at LOG_LEVEL=debug (AppLogger demotes them): the banner below stays visible.
      logger: new AppLogger({ logLevels: levelsFrom(config.LOG_LEVEL) }),
      // a failed start is ours to report (Nest's own teardown exits 1 after its stack trace)
      abortOnError: false,
    });
  } catch (err) {
    // Clustered: JetStream did not answer the start-up steps within their budget (retried and logged meanwhile).
    if (err instanceof ClusterStartupError) {
      console.error(err.message);
      await cluster?.link.close().catch(() => undefined);
      process.exit(2);
    }
    process.exit(1); // Nest's ExceptionHandler has logged it
  }
  // No token anywhere -> loopback only; said at startup, refused before listening elsewhere.
  try {
    const line = checkBinding({
      host: config.HOST,
      envTokens: Boolean(config.ADMIN_TOKEN || config.READ_TOKEN),
      storedTokens: app.get(TokenStore).count(),
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
  const dashboardBuilt = existsSync(join(dashboard, 'index.html'));
  if (config.SERVE_DASHBOARD) {
    if (dashboardBuilt) app.useStaticAssets(dashboard, { index: 'index.html' });
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
  app.get(ClusterMembership).advertise(config.NODE_URL ?? url);
  // Last thing printed, plain text (no log prefix); its first line is what test/support/child-server.ts waits for.
  if (levelsFrom(config.LOG_LEVEL).includes('log')) {
    const banner = startupBanner({
      version: VERSION,
      url,
      dashboard: !config.SERVE_DASHBOARD ? 'off' : dashboardBuilt ? 'served' : 'not built',
      auth: { envTokens: Boolean(config.ADMIN_TOKEN || config.READ_TOKEN), storedTokens: app.get(TokenStore).count() },
      dataDir: config.dataDir,
    });
    process.stdout.write(`\n${banner}\n\n`);
  }
}

void bootstrap();
