import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { scopeAllows } from '../contracts/scopes';
import { RouteAccess, SCOPE_KEY } from './auth.decorators';
import { AuthService, Principal } from './auth.service';

export type AuthenticatedRequest = Request & { principal?: Principal };

/** REST: `Authorization: Bearer <token>`, checked against the route's RequireScope (admin when unset). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(AuthService) private readonly auth: AuthService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const access =
      this.reflector.getAllAndOverride<RouteAccess | undefined>(SCOPE_KEY, [context.getHandler(), context.getClass()]) ??
      'admin';
    if (access === 'public') return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const token = AuthService.bearerFrom(req.headers);
    const principal = token !== null ? this.auth.verify(token) : this.auth.openPrincipal(req.socket.remoteAddress);
    if (!principal) {
      context.switchToHttp().getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer');
      throw new UnauthorizedException({
        statusCode: 401,
        error: 'unauthorized',
        message: token === null ? 'missing token: send "Authorization: Bearer <token>"' : 'invalid token',
      });
    }
    if (!scopeAllows(principal.scope, access)) {
      throw new ForbiddenException({
        statusCode: 403,
        error: 'forbidden',
        message: `this needs the ${access} scope; the token has ${principal.scope}`,
      });
    }
    req.principal = principal;
    return true;
  }
}
