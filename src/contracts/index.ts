/**
 * The browser-safe contracts in one module, for clients/sdk (and through it the dashboard). Server code imports the
 * specific file instead (`../contracts/labels`), so each room's dependencies stay visible. frames.ts and ports/ are
 * server-only and not exported here.
 */
export * from './cameras';
export * from './cluster';
export * from './commands';
export * from './errors';
export * from './events';
export * from './faces';
export * from './geometry';
export * from './history';
export * from './labels';
export * from './messages';
export * from './personalization';
export * from './scopes';
export * from './wire';
export * from './webhooks';
