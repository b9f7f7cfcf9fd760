import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { TokenStore } from './token.store';

/**
 * Tokens and the REST guard. The guard is global (APP_GUARD): every route of the app needs an admin token unless it
 * says @RequireScope('read') or @Public(). Needs CONFIG and StorageModule (both global: TokenRepository, and the
 * DataVersionWatcher that sees the token CLI's commits from another process). AuthService.changes$() tells holders of
 * long-lived principals (the WebSocket gateway) to re-check them.
 */
@Module({
  providers: [TokenStore, AuthService, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [TokenStore, AuthService],
})
export class AuthModule {}
