import { describe, expect, it } from 'vitest';
import { endpointUrlProblem, isForbiddenAddress, isPortAllowed, parsePortList, portOfUrl } from '../src/network.ts';

describe('isForbiddenAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private 10/8'],
    ['10.255.255.255', 'private 10/8'],
    ['172.16.0.1', 'private 172.16/12'],
    ['172.31.255.255', 'private 172.16/12'],
    ['192.168.1.1', 'private 192.168/16'],
    ['169.254.169.254', 'link-local cloud metadata'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.254', 'CGNAT'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'this network'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['::1', 'IPv6 loopback'],
    ['::', 'IPv6 unspecified'],
    ['fe80::1', 'IPv6 link-local'],
    ['fe80::1%eth0', 'IPv6 link-local with zone'],
    ['fc00::1', 'IPv6 unique local'],
    ['fd00:ec2::254', 'AWS IPv6 metadata'],
    ['ff02::1', 'IPv6 multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback in hex'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['64:ff9b::7f00:1', 'NAT64 of loopback'],
    ['2001:db8::1', 'IPv6 documentation'],
  ])('refuses %s (%s)', (address) => {
    expect(isForbiddenAddress(address)).toBe(true);
  });

  it.each(['', 'localhost', 'example.com', 'not an ip', '256.0.0.1', '1.2.3.4.5', '::g', '[::1]', ' 8.8.8.8', '8.8.8.8/32'])(
    'refuses the unparseable %j',
    (address) => {
      expect(isForbiddenAddress(address)).toBe(true);
    },
  );

  it.each(['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8'])(
    'allows the public address %s',
    (address) => {
      expect(isForbiddenAddress(address)).toBe(false);
    },
  );

  it.each(['http://2130706433/', 'http://0177.0.0.1/', 'http://0x7f.0.0.1/', 'http://0x7f.1/', 'http://127.1/'])(
    'sees %s as 127.0.0.1 after WHATWG URL normalisation, and refuses it',
    (raw) => {
      const { hostname } = new URL(raw);
      expect(hostname).toBe('127.0.0.1');
      expect(isForbiddenAddress(hostname)).toBe(true);
    },
  );

  it('refuses the alternative spellings even if given raw', () => {
    for (const spelling of ['2130706433', '0177.0.0.1', '0x7f.0.0.1']) {
      expect(isForbiddenAddress(spelling)).toBe(true);
    }
  });
});

describe('endpointUrlProblem', () => {
  it.each([
    'https://example.com/webhooks',
    'http://example.com',
    'https://example.com:8443/a/b?c=d#e',
    'http://93.184.216.34/hook',
    'https://[2606:4700:4700::1111]/hook',
    'HTTPS://EXAMPLE.COM/',
  ])('accepts %s', (raw) => {
    expect(endpointUrlProblem(raw)).toBeNull();
  });

  it.each(['', 'not a url', 'example.com/webhooks', '/relative/path', '//example.com/x', 'http://', 'https://exa mple.com/'])(
    'rejects the non-URL %j',
    (raw) => {
      expect(endpointUrlProblem(raw)).toBe('must be an absolute URL');
    },
  );

  it.each(['ftp://example.com/file', 'file:///etc/passwd', 'ws://example.com/', 'javascript:alert(1)', 'gopher://example.com/', 'data:text/plain,hi'])(
    'rejects the scheme of %s',
    (raw) => {
      expect(endpointUrlProblem(raw)).toBe('must use http or https');
    },
  );

  it.each(['https://user:pass@example.com/', 'https://user@example.com/', 'http://:secret@example.com/'])(
    'rejects credentials in %s',
    (raw) => {
      expect(endpointUrlProblem(raw)).toBe('must not contain credentials');
    },
  );
});

describe('parsePortList', () => {
  it('means any port when empty or unset', () => {
    expect(parsePortList(undefined)).toBeNull();
    expect(parsePortList('')).toBeNull();
    expect(parsePortList('  ')).toBeNull();
  });

  it('reads ports and inclusive ranges, with spaces around entries', () => {
    expect(parsePortList('80, 443 ,8000-9000,1 - 2')).toEqual([
      { from: 80, to: 80 },
      { from: 443, to: 443 },
      { from: 8000, to: 9000 },
      { from: 1, to: 2 },
    ]);
  });

  it.each([
    ['80,', /"" is not a port/],
    ['http', /"http" is not a port/],
    ['80;443', /"80;443" is not a port/],
    ['-80', /is not a port/],
    ['8000-', /is not a port/],
    ['0', /port 0 in "0" is outside 1-65535/],
    ['65536', /port 65536 .* outside 1-65535/],
    ['100-70000', /port 70000 .* outside/],
    ['9000-8000', /range "9000-8000" ends before it starts/],
  ])('refuses %j', (raw, message) => {
    expect(() => parsePortList(raw)).toThrow(message);
  });
});

describe('isPortAllowed', () => {
  const ranges = parsePortList('80,443,8000-9000');
  it.each([
    [80, true],
    [443, true],
    [8000, true],
    [8500, true],
    [9000, true],
    [81, false],
    [7999, false],
    [9001, false],
    [22, false],
  ])('port %i → %s', (port, allowed) => {
    expect(isPortAllowed(port, ranges)).toBe(allowed);
  });

  it('allows every port when no list is set', () => {
    expect(isPortAllowed(22, null)).toBe(true);
  });
});

describe('portOfUrl', () => {
  it.each([
    ['http://example.com/', 80],
    ['https://example.com/', 443],
    ['http://example.com:8080/', 8080],
    ['https://example.com:443/', 443],
    ['http://[::1]:9000/', 9000],
  ])('%s → %i', (url, port) => {
    expect(portOfUrl(new URL(url))).toBe(port);
  });
});
