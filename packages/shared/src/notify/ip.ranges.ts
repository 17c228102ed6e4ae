import { isIPv4, isIPv6 } from 'node:net';

/** Why an address is not on the public internet. */
export type NonPublicRange = 'loopback' | 'private' | 'link-local' | 'unique-local' | 'unspecified' | 'shared (CGNAT)' | 'multicast' | 'reserved';

function ipv4Octets(text: string): number[] {
  return text.split('.').map(Number);
}

function classifyIPv4(o: number[]): NonPublicRange | null {
  const [a, b] = o as [number, number, number, number];
  if (a === 0) return 'unspecified'; // 0.0.0.0/8 "this network": connects to the local host on Linux
  if (a === 127) return 'loopback';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private';
  if (a === 169 && b === 254) return 'link-local'; // includes cloud metadata at 169.254.169.254
  if (a === 100 && b >= 64 && b <= 127) return 'shared (CGNAT)';
  if (a >= 224 && a <= 239) return 'multicast';
  if (a >= 240) return 'reserved'; // includes 255.255.255.255
  return null;
}

/** The eight 16-bit groups of an IPv6 address (zone id dropped, dotted IPv4 tail folded in). */
function ipv6Groups(text: string): number[] {
  let s = text;
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [a, b, c, d] = ipv4Octets(tail) as [number, number, number, number];
    s = `${s.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  if (rest === undefined) return left;
  const right = parse(rest);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

function embeddedIPv4(hi: number, lo: number): number[] {
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
}

function classifyIPv6(g: number[]): NonPublicRange | null {
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8)) return 'unspecified';
  if (zeros(0, 7) && g[7] === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible (::a.b.c.d) forms reach the IPv4 address.
  if (zeros(0, 5) && (g[5] === 0xffff || g[5] === 0)) return classifyIPv4(embeddedIPv4(g[6]!, g[7]!));
  // NAT64 (64:ff9b::/96) translates to the embedded IPv4 address.
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return classifyIPv4(embeddedIPv4(g[6]!, g[7]!));
  // 6to4 (2002::/16) carries an IPv4 address in bits 16–47.
  if (g[0] === 0x2002) return classifyIPv4(embeddedIPv4(g[1]!, g[2]!));
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0]! & 0xffc0) === 0xfec0) return 'private'; // deprecated site-local
  if ((g[0]! & 0xfe00) === 0xfc00) return 'unique-local';
  if ((g[0]! & 0xff00) === 0xff00) return 'multicast';
  return null;
}

/**
 * Classifies an IP address literal: the range it belongs to when it is not publicly routable
 * (loopback, RFC 1918 private, link-local, unique-local, unspecified, CGNAT, multicast, reserved,
 * including IPv4-mapped / NAT64 / 6to4 IPv6 forms of those), `null` when it is public.
 * Accepts bracketed IPv6 (`[::1]`) and zone ids (`fe80::1%eth0`). Throws on a non-IP string.
 */
export function nonPublicRange(address: string): NonPublicRange | null {
  let text = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (isIPv4(text)) return classifyIPv4(ipv4Octets(text));
  if (isIPv6(text)) return classifyIPv6(ipv6Groups(text.toLowerCase()));
  throw new TypeError(`not an IP address: ${address}`);
}

/** True for an IPv4 or IPv6 literal (brackets and zone ids allowed). */
export function isIpLiteral(host: string): boolean {
  let text = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  return isIPv4(text) || isIPv6(text);
}
