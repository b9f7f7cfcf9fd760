import { SetMetadata } from '@nestjs/common';
import type { Scope } from '../contracts/scopes';

export const SCOPE_KEY = 'iex:scope';
export type RouteAccess = Scope | 'public';

/**
 * The scope a route needs. Routes without it need `admin`: a new endpoint is closed until someone decides
 * otherwise.
 */
export const RequireScope = (access: RouteAccess) => SetMetadata(SCOPE_KEY, access);
/** No token needed (health, API docs). */
export const Public = () => SetMetadata(SCOPE_KEY, 'public' satisfies RouteAccess);
