import ipaddr from 'ipaddr.js';

/**
 * IP addresses and CIDR ranges, IPv4 and IPv6, as API-key allow-lists and the webhook egress
 * policy read them. An IPv4 address seen as IPv6 (::ffff:192.0.2.1) is read as the IPv4 address
 * it carries, in entries and in the addresses matched against them alike.
 */
export type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Network = [Address, number];

/** An address, with an IPv4-mapped IPv6 one read as IPv4. Throws on text that is not an address. */
export const readAddress = (text: string): Address => ipaddr.process(text);

export function isAddressOrRange(entry: string): boolean {
  return entry.includes('/') ? ipaddr.isValidCIDR(entry) : ipaddr.isValid(entry);
}

/** "10.0.0.0/8", "2001:db8::/32" or "192.0.2.7" (a /32 or /128); the entry must be valid. */
export function readNetwork(entry: string): Network {
  if (entry.includes('/')) {
    const [address, bits] = ipaddr.parseCIDR(entry);
    const read = readAddress(address.toString());
    // ::ffff:10.0.0.0/104 is 10.0.0.0/8.
    return [read, address.kind() === 'ipv6' && read.kind() === 'ipv4' ? bits - 96 : bits];
  }
  const address = readAddress(entry);
  return [address, address.kind() === 'ipv4' ? 32 : 128];
}

/** Whether an address falls in any of the (valid) entries; with no entries, never. */
export function networksMatcher(entries: readonly string[]): (address: Address) => boolean {
  const networks = entries.map(readNetwork);
  return (address) =>
    networks.some(([base, bits]) => base.kind() === address.kind() && address.match(base, bits));
}
