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
