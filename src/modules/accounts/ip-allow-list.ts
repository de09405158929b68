import ipaddr from 'ipaddr.js';
import { invalid } from '../../errors.js';
import { networksMatcher, readAddress, readNetwork } from '../../networks.js';

/**
 * API key IP allow-lists: single addresses and CIDR ranges, IPv4 and IPv6. An IPv4 client seen
 * through an IPv6 socket (::ffff:192.0.2.1) matches its IPv4 entries (src/networks.ts).
 */

/** Validates and canonicalises entries ("10.0.0.0/8", "2001:db8::/32", "192.0.2.7"). */
export function normaliseAllowList(entries: string[]): string[] {
  if (entries.length > 100) throw invalid('allowed_ips takes at most 100 entries', 'allowed_ips');
  return entries.map((entry, index) => {
    const trimmed = entry.trim();
    const reading = readNetwork(trimmed);
    if ('problem' in reading) {
      throw invalid(
        `allowed_ips[${index}] '${entry}' is not an IP address or CIDR range: ${reading.problem}`,
        'allowed_ips',
      );
    }
    const [address, bits] = reading.network;
    return bits === (address.kind() === 'ipv4' ? 32 : 128)
      ? address.toString()
      : `${address.toString()}/${bits}`;
  });
}

/** Builds a matcher once per key; an empty list allows every address. */
export function allowListMatcher(entries: string[]): (ip: string) => boolean {
  if (entries.length === 0) return () => true;
  const matches = networksMatcher(entries);
  return (ip: string) => ipaddr.isValid(ip) && matches(readAddress(ip));
}
