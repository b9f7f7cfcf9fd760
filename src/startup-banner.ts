/** What a newcomer needs once the server is up, printed last so no other start-up line buries it. */
export interface BannerInput {
  version: string;
  /** e.g. http://127.0.0.1:3000 (no trailing slash) */
  url: string;
  dashboard: 'served' | 'not built' | 'off';
  auth: { envTokens: boolean; storedTokens: number };
  dataDir: string;
}

export function startupBanner(b: BannerInput): string {
  const ws = `${b.url.replace(/^http/, 'ws')}/ws`;
  const dashboard =
    b.dashboard === 'served' ? `${b.url}/` : b.dashboard === 'off' ? 'off (SERVE_DASHBOARD=false)' : 'not built: run `npm run build`';
  const sources = [b.auth.envTokens ? 'environment' : '', b.auth.storedTokens ? `${b.auth.storedTokens} stored` : ''].filter(Boolean);
  const auth = sources.length
    ? `tokens required (${sources.join(', ')}): Authorization: Bearer <token>`
    : 'open to loopback clients, no token (set ADMIN_TOKEN or run `npm run token -- create --scope admin` to require one)';
  return [
    `iExpressionNet ${b.version} listening on ${b.url}`,
    `  dashboard  ${dashboard}`,
    `  WebSocket  ${ws}`,
    `  API docs   ${b.url}/api/docs   (metrics ${b.url}/metrics)`,
    `  auth       ${auth}`,
    `  data       ${b.dataDir}`,
  ].join('\n');
}
