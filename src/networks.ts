import ipaddr from 'ipaddr.js';

/**
 * IP addresses and CIDR ranges, IPv4 and IPv6, as API-key allow-lists, the webhook egress
 * policy and TRUST_PROXY read them. An IPv4 address seen as IPv6 (::ffff:192.0.2.1) is read as
 * the IPv4 address it carries, in entries and in the addresses matched against them alike.
 */
export type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Network = [Address, number];

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
/**
 * IPv4 as people write it: four decimal numbers without leading zeros. ipaddr.js also takes the
 * inet_aton forms, where 010 is octal and 10 alone is 0.0.0.10, so 192.168.010.001 would be
 * stored as 192.168.8.1: an allow-list entry meaning something its author did not.
 */
const DOTTED_QUAD = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const PREFIX_LENGTH = /^(?:0|[1-9][0-9]*)$/;
/** ::ffff:0:0/96 holds the IPv4-mapped addresses, which are read as IPv4. */
const IPV4_MAPPED_PREFIX = 96;

const IPV4_FORM = 'IPv4 is four decimal numbers 0-255 without leading zeros, as 192.0.2.7 or 10.0.0.0/8';
const IPV6_FORM = 'IPv6 is written as 2001:db8::7 or 2001:db8::/32 (an IPv4 part as 192.0.2.7)';

/** Why an entry is not an address or CIDR range in the form above; null when it is one. */
export function networkProblem(entry: string): string | null {
  const [address = '', bits, ...extra] = entry.split('/');
  if (extra.length > 0) return 'a CIDR range has one "/"';
  const ipv6 = address.includes(':');
  if (ipv6) {
    const ipv4Part = address.slice(address.lastIndexOf(':') + 1);
    if (!ipaddr.IPv6.isValid(address) || (ipv4Part.includes('.') && !DOTTED_QUAD.test(ipv4Part))) {
      return IPV6_FORM;
    }
  } else if (!DOTTED_QUAD.test(address)) {
    return IPV4_FORM;
  }
  if (bits === undefined) return null;
  const maxBits = ipv6 ? 128 : 32;
  if (!PREFIX_LENGTH.test(bits) || Number(bits) > maxBits) {
    return `the prefix length after "/" is a decimal number from 0 to ${maxBits}`;
  }
  if (ipv6 && Number(bits) < IPV4_MAPPED_PREFIX && ipaddr.IPv6.parse(address).isIPv4MappedAddress()) {
    return `an IPv4-mapped range (::ffff:…) is read as IPv4, so its prefix is at least /${IPV4_MAPPED_PREFIX}: ::ffff:10.0.0.0/104 is 10.0.0.0/8`;
  }
  return null;
}

/** An address, with an IPv4-mapped IPv6 one read as IPv4. Throws on text that is not an address. */
export const readAddress = (text: string): Address => ipaddr.process(text);

/** "10.0.0.0/8", "2001:db8::/32" or "192.0.2.7" (a /32 or /128), or why the entry is none. */
export function readNetwork(entry: string): { network: Network } | { problem: string } {
  const problem = networkProblem(entry);
  if (problem !== null) return { problem };
  if (entry.includes('/')) {
    const [address, bits] = ipaddr.parseCIDR(entry);
    const read = readAddress(address.toString());
    // ::ffff:10.0.0.0/104 is 10.0.0.0/8.
    const mapped = address.kind() === 'ipv6' && read.kind() === 'ipv4';
    return { network: [read, mapped ? bits - IPV4_MAPPED_PREFIX : bits] };
  }
  const address = readAddress(entry);
  return { network: [address, address.kind() === 'ipv4' ? 32 : 128] };
}

/**
 * Whether an address falls in any of the entries; with no entries, never. An entry that does not
 * read (stored before the form above was enforced, as 1.2.3.4/-32) matches nothing: a key's
 * allow-list then fails closed rather than failing every request.
 */
export function networksMatcher(entries: readonly string[]): (address: Address) => boolean {
  const networks = entries.flatMap((entry) => {
    const reading = readNetwork(entry);
    return 'network' in reading ? [reading.network] : [];
  });
  return (address) =>
    networks.some(([base, bits]) => base.kind() === address.kind() && address.match(base, bits));
}
