import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { isForbiddenAddress, isPortAllowed, portOfUrl, type PortRange } from '@hookrelay/domain';

export class ForbiddenAddressError extends Error {
  override name = 'ForbiddenAddressError';
  readonly code = 'EFORBIDDENADDRESS';
  constructor(host: string, address: string) {
    super(
      `refused to connect to ${host}: ${address} is a loopback, private, link-local or otherwise non-public address ` +
        '(set HOOKRELAY_ALLOW_PRIVATE_NETWORKS=true to allow it)',
    );
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net.connect that resolves the host and refuses it when any address is not
 * public. The socket connects to the very addresses checked here, so a DNS answer that changes
 * between check and connect (rebinding) cannot slip through.
 */
export function safeLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => isForbiddenAddress(a.address));
    if (bad) return callback(new ForbiddenAddressError(hostname, bad.address), []);
    if (options.all) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}

/** net.connect skips `lookup` for IP literals, so those are checked before connecting. */
export function assertPublicLiteral(hostname: string): void {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (isIP(bare) && isForbiddenAddress(bare)) throw new ForbiddenAddressError(hostname, bare);
}

export class ForbiddenPortError extends Error {
  override name = 'ForbiddenPortError';
  readonly code = 'EFORBIDDENPORT';
  constructor(host: string, port: number) {
    super(`refused to connect to ${host}: port ${port} is not in HOOKRELAY_ALLOWED_PORTS`);
  }
}

/** Refuses a URL whose port (explicit, or the scheme's default) is not in the allowed list. */
export function assertAllowedPort(url: URL, allowedPorts: readonly PortRange[] | null): void {
  const port = portOfUrl(url);
  if (!isPortAllowed(port, allowedPorts)) throw new ForbiddenPortError(url.hostname, port);
}
