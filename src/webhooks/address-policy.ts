import { BlockList, isIP } from 'node:net';

/** Options of {@link AddressPolicy}. */
export interface AddressPolicyOptions {
  /** Allow every address, private ones included (WEBHOOK_ALLOW_PRIVATE). @default false */
  allowPrivate?: boolean;
  /** CIDRs allowed even though private (WEBHOOK_ALLOWED_CIDRS). @default none */
  allowedCidrs?: readonly string[];
}

/** Private, loopback, link-local (cloud metadata), CGNAT, multicast and reserved ranges. */
const DENIED_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/3',
];
const DENIED_V6 = [
  '::/127',
  '64:ff9b::/96',
  '100::/64',
  '2001:db8::/32',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
];

function subnets(list: BlockList, cidrs: readonly string[]): BlockList {
  for (const c of cidrs) {
    const [net, bits] = c.split('/');
    const family = isIP(net!) === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(net!, Number(bits), family);
  }
  return list;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`), else the address. */
function unmapped(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1]! : ip;
}

/**
 * Which addresses webhooks may reach: public ones, plus what the operator allowed. Checked on the
 * literal or resolved address, at submit and again when connecting (so DNS rebinding cannot swap
 * in a private address between the check and the call).
 */
export class AddressPolicy {
  private readonly denied = subnets(subnets(new BlockList(), DENIED_V4), DENIED_V6);
  private readonly allowed: BlockList;

  constructor(private readonly opts: AddressPolicyOptions = {}) {
    this.allowed = subnets(new BlockList(), opts.allowedCidrs ?? []);
  }

  /** True when a webhook may connect to `address` (an IP literal). */
  allows(address: string): boolean {
    if (this.opts.allowPrivate) return true;
    const ip = unmapped(address);
    const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (!isIP(ip)) return false;
    if (this.allowed.check(ip, family)) return true;
    return !this.denied.check(ip, family);
  }
}
