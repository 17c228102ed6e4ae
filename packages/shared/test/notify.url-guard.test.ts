import type { LookupAddress } from 'node:dns';
import { checkWebhookUrl, checkWebhookUrlSyntax, connectLookup, nonPublicRange, type HostLookup } from '@lunasentri/shared';

const fixedLookup =
  (table: Record<string, string[]>): HostLookup =>
  async (hostname) => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

describe('address classification', () => {
  test.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['100.64.0.1', 'shared (CGNAT)'],
    ['100.127.255.255', 'shared (CGNAT)'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:c0a8:101::1', 'private'],
    ['[::1]', 'loopback'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
  ])('%s is %s', (address, range) => {
    expect(nonPublicRange(address)).toBe(range);
  });

  test.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '172.15.255.255', '100.128.0.1', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('%s is public', (address) => {
    expect(nonPublicRange(address)).toBeNull();
  });
});

describe('webhook URL check', () => {
  const publicHost = fixedLookup({ 'hooks.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'], 'rebind.example.com': ['93.184.216.34', '10.0.0.7'], localhost: ['127.0.0.1', '::1'] });

  test('accepts an https URL on a public host', async () => {
    const check = await checkWebhookUrl('https://hooks.example.com/in?x=1', { allowHttp: false, allowPrivate: false, lookup: publicHost });
    expect(check.ok).toBe(true);
  });

  test.each(['not a url', '/relative/path', 'ftp://hooks.example.com/', 'javascript:alert(1)', 'https://user:pass@hooks.example.com/'])('refuses %s as an invalid URL', async (url) => {
    const check = await checkWebhookUrl(url, { allowHttp: true, allowPrivate: true });
    expect(check).toMatchObject({ ok: false, code: 'webhook.invalid_url' });
  });

  test('refuses http unless allowHttp', async () => {
    expect(await checkWebhookUrl('http://hooks.example.com/', { allowHttp: false, allowPrivate: false, lookup: publicHost })).toMatchObject({ ok: false, code: 'webhook.insecure_url' });
    expect(await checkWebhookUrl('http://hooks.example.com/', { allowHttp: true, allowPrivate: false, lookup: publicHost })).toMatchObject({ ok: true });
  });

  test.each(['https://127.0.0.1/', 'https://[::1]/', 'https://10.0.0.1/', 'https://169.254.169.254/latest', 'https://[::ffff:127.0.0.1]/', 'https://0x7f000001/', 'https://2130706433/', 'https://0.0.0.0/', 'https://100.64.1.1/'])(
    'refuses the private address literal %s unless allowPrivate',
    async (url) => {
      expect(await checkWebhookUrl(url, { allowHttp: false, allowPrivate: false })).toMatchObject({ ok: false, code: 'webhook.private_address' });
      expect(await checkWebhookUrl(url, { allowHttp: false, allowPrivate: true })).toMatchObject({ ok: true });
    },
  );

  test('refuses a host name when any of its addresses is private, naming the host but not the query', async () => {
    const check = await checkWebhookUrl('https://rebind.example.com/hook?token=s3cr3t-in-query', { allowHttp: false, allowPrivate: false, lookup: publicHost });
    expect(check).toMatchObject({ ok: false, code: 'webhook.private_address' });
    expect(!check.ok && check.error).toContain('rebind.example.com resolves to 10.0.0.7 (private)');
    expect(JSON.stringify(check)).not.toContain('s3cr3t-in-query');
  });

  test('a URL that breaks both the https and the address rule is refused naming both', async () => {
    const literal = await checkWebhookUrl('http://127.0.0.1:9000/hook', { allowHttp: false, allowPrivate: false });
    expect(literal).toMatchObject({ ok: false, code: 'webhook.insecure_url' });
    expect(!literal.ok && literal.error).toMatch(/two reasons: .*WEBHOOK_ALLOW_HTTP=true.*its address 127\.0\.0\.1 is loopback .*WEBHOOK_ALLOW_PRIVATE=true/);
    const named = await checkWebhookUrl('http://rebind.example.com/hook', { allowHttp: false, allowPrivate: false, lookup: publicHost });
    expect(!named.ok && named.error).toContain('and host rebind.example.com resolves to 10.0.0.7, which is private (set WEBHOOK_ALLOW_PRIVATE=true to allow it)');
    // The sender's pre-send check (no DNS) says the same of a literal.
    expect(checkWebhookUrlSyntax('http://10.0.0.1/', {})).toMatchObject({ ok: false, error: expect.stringContaining('two reasons') });
    expect(await checkWebhookUrl('http://localhost:9000/', { allowHttp: false, allowPrivate: false })).toMatchObject({ ok: false, error: expect.stringContaining('host localhost resolves to') });
  });

  test('refuses localhost through the real resolver', async () => {
    expect(await checkWebhookUrl('https://localhost:8443/hook', { allowHttp: false, allowPrivate: false })).toMatchObject({ ok: false, code: 'webhook.private_address' });
  });

  test('a host that does not resolve is an invalid URL; with allowPrivate no lookup happens', async () => {
    expect(await checkWebhookUrl('https://nowhere.example.com/', { allowHttp: false, allowPrivate: false, lookup: publicHost })).toMatchObject({ ok: false, code: 'webhook.invalid_url' });
    const lookup = jest.fn(publicHost);
    expect(await checkWebhookUrl('https://nowhere.example.com/', { allowHttp: false, allowPrivate: true, lookup })).toMatchObject({ ok: true });
    expect(lookup).not.toHaveBeenCalled();
  });
});

describe('connect-time lookup', () => {
  function resolveWith(lookup: HostLookup, allowPrivate: boolean, all: boolean): Promise<{ error: NodeJS.ErrnoException | null; addresses: string[] }> {
    return new Promise((resolve) => {
      connectLookup(lookup, allowPrivate)('rebind.example.com', { all }, (error, address) => {
        const addresses = Array.isArray(address) ? (address as LookupAddress[]).map((a) => a.address) : address ? [address] : [];
        resolve({ error, addresses });
      });
    });
  }

  test('drops private addresses and keeps the public ones', async () => {
    const lookup = fixedLookup({ 'rebind.example.com': ['10.0.0.7', '93.184.216.34', '::ffff:127.0.0.1'] });
    expect(await resolveWith(lookup, false, true)).toEqual({ error: null, addresses: ['93.184.216.34'] });
    expect(await resolveWith(lookup, false, false)).toEqual({ error: null, addresses: ['93.184.216.34'] });
  });

  test('fails with a private-address error when nothing public is left', async () => {
    const result = await resolveWith(fixedLookup({ 'rebind.example.com': ['127.0.0.1', '::1'] }), false, true);
    expect(result.error).toMatchObject({ code: 'LUNASENTRI_PRIVATE_ADDRESS' });
    expect(result.error?.message).toContain('rebind.example.com resolves to 127.0.0.1 (loopback)');
  });

  test('passes everything through when private addresses are allowed', async () => {
    const result = await resolveWith(fixedLookup({ 'rebind.example.com': ['127.0.0.1', '10.0.0.7'] }), true, true);
    expect(result).toEqual({ error: null, addresses: ['127.0.0.1', '10.0.0.7'] });
  });
});
