import ipaddr from 'ipaddr.js';
import { invalid } from '../../errors.js';

/**
 * API key IP allow-lists: single addresses and CIDR ranges, IPv4 and IPv6. An IPv4 client seen
 * through an IPv6 socket (::ffff:192.0.2.1) matches its IPv4 entries.
 */
type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

function normalise(address: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (address as ipaddr.IPv6).toIPv4Address();
  }
  return address;
}

function parseEntry(entry: string): Range {
  if (entry.includes('/')) {
    const [address, bits] = ipaddr.parseCIDR(entry);
    return [
      normalise(address),
      address.kind() === 'ipv6' && normalise(address).kind() === 'ipv4' ? bits - 96 : bits,
    ];
  }
  const address = normalise(ipaddr.parse(entry));
  return [address, address.kind() === 'ipv4' ? 32 : 128];
}

/** Validates and canonicalises entries ("10.0.0.0/8", "2001:db8::/32", "192.0.2.7"). */
export function normaliseAllowList(entries: string[]): string[] {
  if (entries.length > 100) throw invalid('allowed_ips takes at most 100 entries', 'allowed_ips');
  return entries.map((entry, index) => {
    const trimmed = entry.trim();
    const valid = trimmed.includes('/') ? ipaddr.isValidCIDR(trimmed) : ipaddr.isValid(trimmed);
    if (!valid)
      throw invalid(`allowed_ips[${index}] '${entry}' is not an IP address or CIDR range`, 'allowed_ips');
    const [address, bits] = parseEntry(trimmed);
    return bits === (address.kind() === 'ipv4' ? 32 : 128)
      ? address.toString()
      : `${address.toString()}/${bits}`;
  });
}

/** Builds a matcher once per key; an empty list allows every address. */
export function allowListMatcher(entries: string[]): (ip: string) => boolean {
  if (entries.length === 0) return () => true;
  const ranges = entries.map(parseEntry);
  return (ip: string) => {
    if (!ipaddr.isValid(ip)) return false;
    const address = normalise(ipaddr.parse(ip));
    return ranges.some(([base, bits]) => base.kind() === address.kind() && address.match(base, bits));
  };
}
