import ipaddr from 'ipaddr.js';

/**
 * True for addresses a delivery must never reach unless private networks are allowed:
 * loopback, private, link-local (cloud metadata), CGNAT, multicast, unspecified and reserved
 * ranges, including IPv4-mapped IPv6 spellings of them. Unparseable input is refused.
 */
export function isForbiddenAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true;
  // process() turns ::ffff:a.b.c.d into the IPv4 address it stands for.
  const parsed = ipaddr.process(address);
  return parsed.range() !== 'unicast';
}

/** Returns why a subscription URL is unusable, or null. Reachability is checked at delivery time. */
export function endpointUrlProblem(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http or https';
  if (url.username || url.password) return 'must not contain credentials';
  if (!url.hostname) return 'must have a host';
  return null;
}

/** An inclusive range of TCP ports; a single port is a range of one. */
export interface PortRange {
  from: number;
  to: number;
}

/**
 * Parses a comma-separated list of ports and ranges (`80,443,8000-9000`). Empty or blank input
 * means any port and gives null. Throws an Error saying what is wrong with the first bad entry.
 */
export function parsePortList(raw: string | undefined): PortRange[] | null {
  if (raw === undefined || raw.trim() === '') return null;
  return raw.split(',').map((entry) => {
    const item = entry.trim();
    const m = /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(item);
    if (!m) throw new Error(`"${item}" is not a port or a range of ports like 8000-9000`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    for (const p of [from, to]) {
      if (p < 1 || p > 65535) throw new Error(`port ${p} in "${item}" is outside 1-65535`);
    }
    if (from > to) throw new Error(`range "${item}" ends before it starts`);
    return { from, to };
  });
}

/** True when `port` is in one of `ranges`; null ranges allow every port. */
export function isPortAllowed(port: number, ranges: readonly PortRange[] | null): boolean {
  return ranges === null || ranges.some((r) => port >= r.from && port <= r.to);
}

/** The TCP port a URL connects to: its explicit port, or its scheme's default (80, 443). */
export function portOfUrl(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}
