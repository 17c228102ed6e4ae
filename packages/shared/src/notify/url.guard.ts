import { promises as dns } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { isIpLiteral, nonPublicRange } from './ip.ranges';
import type { HostLookup, UrlCheck } from './types';

/** The URL rules of CONTRACT §4.1; both default to the safe side. */
export interface UrlGuardOptions {
  /** accept `http://` (WEBHOOK_ALLOW_HTTP); default false */
  allowHttp?: boolean;
  /** accept hosts on non-public addresses (WEBHOOK_ALLOW_PRIVATE); default false */
  allowPrivate?: boolean;
  /** resolver for host names; default `node:dns` lookup of all addresses */
  lookup?: HostLookup;
}

/** `node:dns` lookup of every address (A and AAAA), in the resolver's order. */
export const systemLookup: HostLookup = (hostname) => dns.lookup(hostname, { all: true });

/** Thrown from the connection lookup when every address of a host is refused. */
export class PrivateAddressError extends Error {
  readonly code = 'LUNASENTRI_PRIVATE_ADDRESS';
  constructor(
    readonly hostname: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(privateAddressMessage(hostname, address, range));
    this.name = 'PrivateAddressError';
  }
}

function privateAddressMessage(hostname: string, address: string, range: string): string {
  const where = hostname === address ? `address ${address}` : `host ${hostname} resolves to ${address}`;
  return `webhook ${where} (${range}); set WEBHOOK_ALLOW_PRIVATE=true to allow it`;
}

/** URL.hostname keeps IPv6 brackets; resolvers and classifiers want them off. */
function bareHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/** A non-public address a webhook host is on. */
interface PrivateHit {
  hostname: string;
  address: string;
  range: string;
}

const INSECURE = 'webhook URL must use https; set WEBHOOK_ALLOW_HTTP=true to allow http';

/**
 * The refusal for the policy rules a URL broke: http without WEBHOOK_ALLOW_HTTP, a non-public
 * address without WEBHOOK_ALLOW_PRIVATE, or both at once — named together, so fixing one is not
 * followed by a second refusal (`http://127.0.0.1:9000/` breaks both).
 */
function policyCheck(url: URL, insecure: boolean, hit: PrivateHit | undefined): UrlCheck {
  if (insecure && hit) {
    const where = hit.hostname === hit.address ? `its address ${hit.address} is` : `host ${hit.hostname} resolves to ${hit.address}, which is`;
    return {
      ok: false,
      code: 'webhook.insecure_url',
      error: `webhook URL refused for two reasons: it must use https (set WEBHOOK_ALLOW_HTTP=true to allow http), and ${where} ${hit.range} (set WEBHOOK_ALLOW_PRIVATE=true to allow it)`,
    };
  }
  if (insecure) return { ok: false, code: 'webhook.insecure_url', error: INSECURE };
  if (hit) return { ok: false, code: 'webhook.private_address', error: privateAddressMessage(hit.hostname, hit.address, hit.range) };
  return { ok: true, url };
}

/** Parse, scheme, credentials, host: what makes a URL unusable whatever the policy. */
function parseWebhookUrl(input: string): { ok: true; url: URL } | Extract<UrlCheck, { ok: false }> {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, code: 'webhook.invalid_url', error: 'webhook URL is not a valid absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, code: 'webhook.invalid_url', error: `webhook URL scheme must be https, not ${url.protocol.slice(0, -1)}` };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, code: 'webhook.invalid_url', error: 'webhook URL must not contain credentials' };
  }
  if (url.hostname === '') return { ok: false, code: 'webhook.invalid_url', error: 'webhook URL has no host' };
  return { ok: true, url };
}

/** The private-address rule for an IP literal host (never resolved), unless allowed. */
function literalHit(url: URL, options: UrlGuardOptions): PrivateHit | undefined {
  const host = bareHost(url);
  if (options.allowPrivate || !isIpLiteral(host)) return undefined;
  const range = nonPublicRange(host);
  return range ? { hostname: host, address: host, range } : undefined;
}

/**
 * The checks that need no DNS: parse, scheme, https unless allowed, no credentials, and — for IP
 * literal hosts, which never go through a resolver — the private-address rule. The sender runs this
 * before every request; host names are checked on the resolved address at connect time instead.
 */
export function checkWebhookUrlSyntax(input: string, options: UrlGuardOptions = {}): UrlCheck {
  const parsed = parseWebhookUrl(input);
  if (!parsed.ok) return parsed;
  return policyCheck(parsed.url, parsed.url.protocol === 'http:' && !options.allowHttp, literalHit(parsed.url, options));
}

/**
 * Checks a webhook URL before it is stored (CONTRACT §4.1): parses it, allows only http(s), requires
 * https unless `allowHttp`, refuses credentials in the URL, and unless `allowPrivate` resolves the
 * host and refuses it when ANY of its addresses is loopback, private, link-local, unique-local,
 * unspecified, CGNAT (or an IPv4-mapped form of those). A URL that breaks both the https and the
 * address rule is refused naming both. A host that does not resolve is `webhook.invalid_url`. With
 * `allowPrivate` no DNS query is made.
 *
 * Passing here is not enough on its own — DNS can change afterwards — so the sender repeats the
 * check on the address it actually connects to. Error texts name the host, never the query string.
 */
export async function checkWebhookUrl(input: string, options: UrlGuardOptions = {}): Promise<UrlCheck> {
  const parsed = parseWebhookUrl(input);
  if (!parsed.ok) return parsed;
  const { url } = parsed;
  const insecure = url.protocol === 'http:' && !options.allowHttp;
  const host = bareHost(url);
  if (options.allowPrivate || isIpLiteral(host)) return policyCheck(url, insecure, literalHit(url, options));
  const addresses = await (options.lookup ?? systemLookup)(host).catch(() => []);
  if (addresses.length === 0) {
    return insecure ? policyCheck(url, true, undefined) : { ok: false, code: 'webhook.invalid_url', error: `webhook host ${host} does not resolve` };
  }
  const found = addresses.map(({ address }) => ({ hostname: host, address, range: nonPublicRange(address) })).find((a) => a.range !== null);
  return policyCheck(url, insecure, found ? { ...found, range: found.range! } : undefined);
}

/**
 * A `net.connect` lookup that resolves through `lookup` and, unless `allowPrivate`, drops every
 * non-public address — failing with {@link PrivateAddressError} when none is left. Because the
 * socket connects to what this returns, a host re-pointed at 127.0.0.1 after its URL was checked
 * (DNS rebinding) is still refused.
 */
export function connectLookup(lookup: HostLookup, allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname).then(
      (resolved) => {
        const family = options.family === 4 || options.family === 6 ? options.family : 0;
        let candidates = family === 0 ? resolved : resolved.filter((a) => a.family === family);
        if (candidates.length === 0) candidates = resolved;
        const usable = allowPrivate ? candidates : candidates.filter((a) => nonPublicRange(a.address) === null);
        if (usable.length === 0) {
          const first = candidates[0];
          const error = first
            ? new PrivateAddressError(hostname, first.address, nonPublicRange(first.address) ?? 'refused')
            : Object.assign(new Error(`webhook host ${hostname} does not resolve`), { code: 'ENOTFOUND' });
          callback(error, '', 0);
          return;
        }
        // net.connect asks for every address when it races IPv4/IPv6 (autoSelectFamily), one otherwise.
        if (options.all) callback(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}
