import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { TokenStore } from './token.store';

/**
 * Tokens and the REST guard. The guard is global (APP_GUARD): every route of the app needs an admin token unless it
 * says @RequireScope('read') or @Public(). Needs CONFIG and SqliteDatabase (both global modules).
 */
@Module({
  providers: [TokenStore, AuthService, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [TokenStore, AuthService],
})
export class AuthModule {}
