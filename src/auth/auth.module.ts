import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { SqliteDatabase } from '../storage/database';
import { DataVersionWatcher } from '../storage/data-version.watcher';
import { AuthGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { TokenStore } from './token.store';

/**
 * Tokens and the REST guard. The guard is global (APP_GUARD): every route of the app needs an admin token unless it
 * says @RequireScope('read') or @Public(). Needs CONFIG and SqliteDatabase (both global modules). AuthService.changes$()
 * tells holders of long-lived principals (the WebSocket gateway) to re-check them.
 */
@Module({
  providers: [
    TokenStore,
    AuthService,
    { provide: APP_GUARD, useClass: AuthGuard },
    // Sees the token CLI's commits (another process) so open WebSockets of a revoked token are closed.
    { provide: DataVersionWatcher, inject: [SqliteDatabase], useFactory: (db: SqliteDatabase) => new DataVersionWatcher(db) },
  ],
  exports: [TokenStore, AuthService],
})
export class AuthModule {}
