import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { type Address, networksMatcher, readAddress } from '../../networks.js';

/**
 * Where webhook deliveries may go (decision 0052). Customers and partners register endpoint
 * URLs, and the server makes the requests: unchecked, a key could have Tollgate POST into the
 * operator's own network (loopback, private ranges, the cloud metadata address 169.254.169.254)
 * and learn from the delivery log what answered there. Deliveries reach public unicast
 * addresses only, plus the networks the operator lists in WEBHOOK_ALLOWED_NETWORKS.
 */

/** What ipaddr.js calls each special range, said for an error message. */
const RANGE_NAMES: Record<string, string> = {
  unspecified: 'unspecified',
  loopback: 'loopback',
  private: 'private (RFC 1918)',
  linkLocal: 'link-local',
  uniqueLocal: 'unique-local',
  carrierGradeNat: 'carrier-grade NAT',
  multicast: 'multicast',
  broadcast: 'broadcast',
  reserved: 'reserved',
};

export class EgressPolicy {
  private readonly allowed: (address: Address) => boolean;

  /** `allowedNetworks`: addresses or CIDR ranges reachable even though not public (checked at start). */
  constructor(allowedNetworks: readonly string[]) {
    this.allowed = networksMatcher(allowedNetworks);
  }

  /** Null when a delivery may connect to this address; otherwise why not. */
  refusal(address: string): string | null {
    // ::ffff:10.0.0.1 is read as the IPv4 address it carries.
    const parsed = readAddress(address);
    if (this.allowed(parsed)) return null;
    const range = parsed.range();
    if (range === 'unicast') return null;
    return `${parsed.toString()}, a ${RANGE_NAMES[range] ?? `special-purpose (${range})`} address`;
  }

  /**
   * For a URL's host: the reason it is refused when it is an address (or the local host's name),
   * else null. Other names are checked when a delivery resolves them (`lookup`), since what a
   * name resolves to can change after it is registered.
   */
  hostRefusal(hostname: string): string | null {
    const literal = this.literalRefusal(hostname);
    if (literal) return literal;
    const name = hostname.toLowerCase().replace(/\.$/, '');
    return name === 'localhost' || name.endsWith('.localhost') ? `${hostname}, the local host` : null;
  }

  /** For a URL's host that is an address (a socket connects to it without a lookup); else null. */
  literalRefusal(hostname: string): string | null {
    const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    return isIP(bare) ? this.refusal(bare) : null;
  }

  /**
   * dns.lookup for http.request: resolves the name, and fails the connection when any address it
   * resolves to is refused. The connection goes to an address this function returned, so a name
   * that resolves differently a moment later (DNS rebinding) cannot slip past the check.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '');
      const refused = addresses.map((entry) => this.refusal(entry.address)).find((reason) => reason !== null);
      if (refused) {
        const blocked: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${refused}; not delivered`);
        blocked.code = 'EGRESS_REFUSED';
        return callback(blocked, '');
      }
      if (options.all) return callback(null, addresses);
      const [first] = addresses;
      return callback(null, first!.address, first!.family);
    });
  };
}
