import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { IngestError } from './ingest.errors';

/**
 * Where the server may connect on a user's behalf (camera URLs today, webhook URLs later). The policy refuses
 * link-local and cloud-metadata destinations — the classic server-side request forgery targets, where a cloud VM's
 * credentials live — and allows everything else, private ranges and loopback included (IP cameras live there).
 *
 * Two parts, both injectable: `classifyAddress` (pure: one address → why it is forbidden, or null) and a
 * `HostResolver` port (the system's getaddrinfo, the same look-up ffmpeg does; tests pass a fake, so no DNS).
 * A name is refused when it is a well-known metadata name or when ANY address it resolves to is forbidden.
 *
 * Sources for the lists (see docs/INGEST.md, "Destination policy"):
 *   AWS EC2 IMDS: 169.254.169.254, fd00:ec2::254 (IPv6 IMDS, Nitro), ECS task metadata 169.254.170.2 (link-local),
 *     name `instance-data` / `instance-data.ec2.internal` — docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html
 *   Google Cloud: 169.254.169.254, `metadata.google.internal`, `metadata.goog`, the short name `metadata`
 *     — cloud.google.com/compute/docs/metadata/querying-metadata
 *   Azure IMDS: 169.254.169.254; WireServer 168.63.129.16 — learn.microsoft.com/azure/virtual-machines/instance-metadata-service
 *   Alibaba Cloud ECS: 100.100.100.200 — alibabacloud.com/help/ecs/user-guide/view-instance-metadata
 *   Oracle Cloud: 169.254.169.254 and the legacy 192.0.0.192 — docs.oracle.com/iaas/Content/Compute/Tasks/gettingmetadata.htm
 *   Tencent Cloud: `metadata.tencentyun.com` (→ 169.254.0.23, link-local)
 *   OpenStack, DigitalOcean, Hetzner, Linode…: 169.254.169.254 (link-local)
 *   Collected SSRF target lists: github.com/cujanovic/SSRF-Testing (cloud-metadata.txt).
 */

export type ForbiddenKind = 'link-local' | 'metadata';

export interface ForbiddenAddress {
  address: string;
  kind: ForbiddenKind;
}

/** The system resolver or a fake: every address a name resolves to (IPv4 and IPv6). */
export interface HostResolver {
  lookup(hostname: string): Promise<string[]>;
}
export const HOST_RESOLVER = Symbol('HOST_RESOLVER');

/** getaddrinfo (hosts file, DNS, mDNS as configured), all addresses, in the order the system gives them. */
export const systemResolver: HostResolver = {
  async lookup(hostname) {
    const found = await lookup(hostname, { all: true, verbatim: true });
    return found.map((a) => a.address);
  },
};

/** Metadata services reached by name (compared lower-case, without a trailing dot). */
export const METADATA_NAMES: readonly string[] = [
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
];

/** Metadata addresses outside the link-local ranges (169.254.169.254 is listed too, to name it "metadata"). */
const METADATA_V4 = new Set(['169.254.169.254', '169.254.170.2', '100.100.100.200', '192.0.0.192', '168.63.129.16']);
const METADATA_V6 = [parseIPv6('fd00:ec2::254')!];

function parseIPv4(s: string): number[] | null {
  if (isIP(s) !== 4) return null;
  return s.split('.').map(Number);
}

/** Eight 16-bit groups, or null. Accepts `::`, an embedded dotted IPv4 tail and a `%zone` suffix. */
function parseIPv6(input: string): number[] | null {
  const s = input.replace(/%.*$/, '');
  if (isIP(s) !== 6) return null;
  let head = s;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = parseIPv4(v4[1]);
    if (!b) return null;
    tail.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
    head = s.slice(0, -v4[1].length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const groups = (part: string | undefined) => (part ? part.split(':').filter((g) => g !== '').map((g) => parseInt(g, 16)) : []);
  const l = groups(left);
  const r = [...groups(right), ...tail];
  if (right === undefined) return [...l, ...tail].length === 8 ? [...l, ...tail] : null;
  const zeros = 8 - l.length - r.length;
  if (zeros < 0) return null;
  return [...l, ...new Array<number>(zeros).fill(0), ...r];
}

function classifyV4(b: number[]): ForbiddenKind | null {
  if (METADATA_V4.has(b.join('.'))) return 'metadata';
  if (b[0] === 169 && b[1] === 254) return 'link-local';
  return null;
}

/**
 * Why the server must not connect to this address, or null when it may. Pure. IPv4-mapped (::ffff:a.b.c.d),
 * IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses are judged by the IPv4 address they carry.
 * Anything that is not an IP address is null (names go through `DestinationPolicy.check`).
 */
export function classifyAddress(address: string): ForbiddenKind | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const v4 = parseIPv4(bare);
  if (v4) return classifyV4(v4);
  const g = parseIPv6(bare);
  if (!g) return null;
  if (METADATA_V6.some((m) => m.every((x, i) => x === g[i]))) return 'metadata';
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local';
  const embedded = (g6: number) => [g[g6] >> 8, g[g6] & 0xff, g[g6 + 1] >> 8, g[g6 + 1] & 0xff];
  const first5Zero = g.slice(0, 5).every((x) => x === 0);
  if (first5Zero && g[5] === 0xffff) return classifyV4(embedded(6)); // ::ffff:0:0/96 mapped
  if (first5Zero && g[5] === 0 && (g[6] !== 0 || g[7] > 1)) return classifyV4(embedded(6)); // ::/96 compatible
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return classifyV4(embedded(6)); // NAT64
  return null;
}

/** `metadata.google.internal.` → true. */
export function isMetadataName(hostname: string): boolean {
  return METADATA_NAMES.includes(hostname.toLowerCase().replace(/\.$/, ''));
}

export interface DestinationPolicyOptions {
  /** true: link-local and metadata destinations are allowed (CAMERA_ALLOW_LINK_LOCAL, WEBHOOK_ALLOW_LINK_LOCAL). */
  allowLinkLocal: boolean;
  /** The setting that allows them, named in the refusal; default CAMERA_ALLOW_LINK_LOCAL. */
  setting?: string;
  resolver: HostResolver;
  /** A look-up slower than this counts as failed. */
  lookupTimeoutMs?: number;
}

/** The outcome of a check that did not refuse. `resolved: false` = the name did not resolve (or too slowly). */
export interface DestinationVerdict {
  host: string;
  addresses: string[];
  resolved: boolean;
}

/** A destination the policy refuses. `message` names the host and address: for the admin who asked, and the log. */
export class DestinationForbiddenError extends IngestError {
  constructor(
    readonly host: string,
    readonly forbidden: ForbiddenAddress | null,
    /** The setting that would allow it (camera and webhook URLs have their own). */
    setting = 'CAMERA_ALLOW_LINK_LOCAL',
  ) {
    super(
      'destination_forbidden',
      forbidden
        ? `destination forbidden: "${host}" ${forbidden.address === host ? 'is' : `resolves to ${forbidden.address},`} a ${forbidden.kind} address` +
            ` (cloud metadata services live there; set ${setting}=true to allow)`
        : `destination forbidden: "${host}" is a cloud metadata service name (set ${setting}=true to allow)`,
    );
  }
}

/** What a client may see about a camera refused at (re)start (no host, no address: those are in the log). */
export const DESTINATION_FORBIDDEN_REASON =
  'destination forbidden: the camera host is, or resolves to, a link-local or cloud metadata address';

/** The host part of a URL as the resolver wants it: no IPv6 brackets. */
export function urlHost(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

export class DestinationPolicy {
  constructor(private readonly options: DestinationPolicyOptions) {}

  get allowsLinkLocal(): boolean {
    return this.options.allowLinkLocal;
  }

  /**
   * Throws DestinationForbiddenError for a metadata name or a host any of whose addresses is forbidden. A name
   * that does not resolve is not refused here (`resolved: false`): the caller decides (nothing can be reached there).
   */
  async check(host: string): Promise<DestinationVerdict> {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    if (this.options.allowLinkLocal) return { host: bare, addresses: [], resolved: true };
    const setting = this.options.setting;
    if (isMetadataName(bare)) throw new DestinationForbiddenError(bare, null, setting);
    if (isIP(bare.replace(/%.*$/, ''))) {
      const kind = classifyAddress(bare);
      if (kind) throw new DestinationForbiddenError(bare, { address: bare, kind }, setting);
      return { host: bare, addresses: [bare], resolved: true };
    }
    const addresses = await this.lookup(bare);
    if (!addresses) return { host: bare, addresses: [], resolved: false };
    for (const address of addresses) {
      const kind = classifyAddress(address);
      if (kind) throw new DestinationForbiddenError(bare, { address, kind }, setting);
    }
    return { host: bare, addresses, resolved: true };
  }

  private async lookup(host: string): Promise<string[] | null> {
    const ms = this.options.lookupTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), ms);
      timer.unref?.();
    });
    try {
      const found = await Promise.race([this.options.resolver.lookup(host).catch(() => null), timeout]);
      return found && found.length ? found : null;
    } finally {
      clearTimeout(timer);
    }
  }
}
