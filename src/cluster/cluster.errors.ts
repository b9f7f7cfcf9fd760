import { CodedError } from '../contracts/errors';

/** `nats://user:pass@host:4222,nats://tok@b` → `nats://***@host:4222,nats://***@b`: no credentials in a log line. */
export function redactNatsServers(servers: string): string {
  return servers
    .split(',')
    .map((s) => s.trim().replace(/^([a-z]+:\/\/)[^@/]*@/i, '$1***@'))
    .join(',');
}

/** NATS did not answer when the node started (NATS_URL wrong, or no server up): the node stops with exit code 2. */
export class ClusterUnavailableError extends CodedError {
  constructor(servers: string, reason: string) {
    super('unavailable', `cannot join the cluster: no NATS server answered at ${redactNatsServers(servers)} (NATS_URL): ${reason}`);
  }
}
