import { describe, expect, it } from 'vitest';
import { classifyAddress, DestinationForbiddenError, DestinationPolicy, HostResolver, isMetadataName } from './destination-policy';

/** A resolver from a table, counting look-ups (no DNS). */
function fakeResolver(table: Record<string, string[] | Error | 'hang'>): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    lookup(host) {
      calls.push(host);
      const v = table[host];
      if (v === 'hang') return new Promise(() => {});
      if (v instanceof Error || v === undefined) return Promise.reject(v ?? Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }));
      return Promise.resolve(v);
    },
  };
}

async function refusal(p: Promise<unknown>): Promise<DestinationForbiddenError | undefined> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DestinationForbiddenError) return e;
    throw e;
  }
  return undefined;
}

describe('classifyAddress', () => {
  it.each([
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['192.0.0.192', 'metadata'],
    ['168.63.129.16', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['FD00:EC2:0:0:0:0:0:254', 'metadata'],
    ['169.254.0.1', 'link-local'],
    ['169.254.255.255', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['[fe80::abcd]', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['0:0:0:0:0:ffff:169.254.1.1', 'link-local'],
    ['::169.254.169.254', 'metadata'],
    ['64:ff9b::169.254.169.254', 'metadata'],
    ['64:ff9b::a9fe:101', 'link-local'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  it.each([
    '127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.20', '100.64.0.1', '8.8.8.8', '169.253.255.255', '169.255.0.1',
    '::1', '::', 'fd12:3456::1', 'fec0::1', 'fe7f::1', '2001:db8::1', '::ffff:192.168.1.20', '::ffff:127.0.0.1',
    'cam.local', '', 'not an address',
  ])('%s is allowed', (address) => {
    expect(classifyAddress(address)).toBeNull();
  });
});

describe('isMetadataName', () => {
  it('knows the cloud metadata names, any case, with a trailing dot', () => {
    for (const n of ['metadata', 'metadata.google.internal', 'METADATA.GOOGLE.INTERNAL.', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal']) {
      expect(isMetadataName(n)).toBe(true);
    }
    for (const n of ['metadata.example.com', 'cam.local', 'mymetadata']) expect(isMetadataName(n)).toBe(false);
  });
});

describe('DestinationPolicy', () => {
  const resolver = fakeResolver({
    'cam.lan': ['192.168.1.20'],
    'cam6.lan': ['fd12::20', '192.168.1.21'],
    'loop.test': ['127.0.0.1', '::1'],
    'rebind.test': ['192.168.1.20', '169.254.169.254'],
    'v6ll.test': ['fe80::1'],
    'mapped.test': ['::ffff:169.254.169.254'],
    'slow.test': 'hang',
  });
  const policy = new DestinationPolicy({ allowLinkLocal: false, resolver, lookupTimeoutMs: 50 });

  it('refuses literal link-local and metadata addresses without a look-up', async () => {
    const calls = resolver.calls.length;
    expect((await refusal(policy.check('169.254.169.254')))?.forbidden).toEqual({ address: '169.254.169.254', kind: 'metadata' });
    expect((await refusal(policy.check('[fe80::1]')))?.forbidden).toEqual({ address: 'fe80::1', kind: 'link-local' });
    expect((await refusal(policy.check('::ffff:169.254.169.254')))?.code).toBe('destination_forbidden');
    expect(resolver.calls.length).toBe(calls);
  });

  it('refuses metadata names before resolving them', async () => {
    const calls = resolver.calls.length;
    const e = await refusal(policy.check('metadata.google.internal'));
    expect(e?.message).toMatch(/metadata service name.*CAMERA_ALLOW_LINK_LOCAL/);
    expect(resolver.calls.length).toBe(calls);
  });

  it('refuses a name when any of its addresses is forbidden', async () => {
    const e = await refusal(policy.check('rebind.test'));
    expect(e?.message).toContain('"rebind.test" resolves to 169.254.169.254, a metadata address');
    expect(await refusal(policy.check('v6ll.test'))).toBeInstanceOf(DestinationForbiddenError);
    expect(await refusal(policy.check('mapped.test'))).toBeInstanceOf(DestinationForbiddenError);
  });

  it('allows private and loopback destinations, by address and by name', async () => {
    for (const h of ['192.168.1.20', '10.1.2.3', '127.0.0.1', '[::1]', 'fd12::1']) {
      expect(await policy.check(h)).toMatchObject({ resolved: true });
    }
    expect(await policy.check('cam.lan')).toEqual({ host: 'cam.lan', addresses: ['192.168.1.20'], resolved: true });
    expect(await policy.check('cam6.lan')).toMatchObject({ resolved: true, addresses: ['fd12::20', '192.168.1.21'] });
    expect(await policy.check('loop.test')).toMatchObject({ resolved: true });
  });

  it('reports a name that does not resolve, or too slowly, as unresolved (not refused)', async () => {
    expect(await policy.check('nowhere.test')).toEqual({ host: 'nowhere.test', addresses: [], resolved: false });
    expect(await policy.check('slow.test')).toEqual({ host: 'slow.test', addresses: [], resolved: false });
  });

  it('CAMERA_ALLOW_LINK_LOCAL allows them all', async () => {
    const open = new DestinationPolicy({ allowLinkLocal: true, resolver });
    for (const h of ['169.254.169.254', '[fe80::1]', 'metadata.google.internal', 'rebind.test']) {
      expect(await open.check(h)).toMatchObject({ resolved: true });
    }
  });
});
