import { BlockList, isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

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
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/3',
];
/**
 * IPv6 ranges denied outright. Transition forms that carry an IPv4 address (mapped, compatible,
 * SIIT, NAT64 64:ff9b::/96, 6to4) are judged by that IPv4 address instead ({@link embeddedIpv4}), so
 * `::ffff:7f00:1`, `::127.0.0.1` and `2002:7f00:1::` are loopback and NAT64 of a public address on
 * an IPv6-only cluster still works. Teredo (2001::/32) and local-use NAT64 (64:ff9b:1::/48) carry
 * addresses a relay or a local translator chooses: denied whole.
 */
const DENIED_V6 = [
  '::/127',
  '64:ff9b:1::/48',
  '100::/64',
  '2001::/32',
  '2001:db8::/32',
  'fc00::/7',
  'fe80::/10',
  'fec0::/10',
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

const v4At = (b: number[], at: number): string => b.slice(at, at + 4).join('.');

/**
 * The IPv4 address an IPv6 address delivers to, in whatever textual form it is written: IPv4-mapped
 * `::ffff:0:0/96`, SIIT `::ffff:0:0:0/96`, IPv4-compatible `::/96`, NAT64 `64:ff9b::/96` (RFC 6052)
 * and 6to4 `2002::/16` (bits 16-47). Undefined for any other address. Parsed by ipaddr.js, not by
 * a pattern: `::ffff:127.0.0.1`, `::ffff:7f00:1` and `0:0:0:0:0:ffff:7f00:0001` are one address.
 */
export function embeddedIpv4(address: string): string | undefined {
  if (!ipaddr.IPv6.isValid(address)) return undefined;
  const ip = ipaddr.IPv6.parse(address);
  const p = ip.parts;
  const b = ip.toByteArray();
  const zeros = (from: number, to: number): boolean => p.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && p[5] === 0xffff) return v4At(b, 12); // mapped
  if (zeros(0, 4) && p[4] === 0xffff && p[5] === 0) return v4At(b, 12); // SIIT
  if (zeros(0, 6)) return v4At(b, 12); // compatible (:: and ::1 are denied before)
  if (p[0] === 0x64 && p[1] === 0xff9b && zeros(2, 6)) return v4At(b, 12); // NAT64
  if (p[0] === 0x2002) return v4At(b, 2); // 6to4
  return undefined;
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

  /** True when a webhook may connect to `address` (an IP literal, IPv4 dotted or any IPv6 form). */
  allows(address: string): boolean {
    if (this.opts.allowPrivate) return true;
    // A zone (`fe80::1%eth0`) names an interface, not another address.
    const ip = address.replace(/%.*$/, '');
    const version = isIP(ip);
    if (!version) return false;
    const family = version === 6 ? 'ipv6' : 'ipv4';
    if (this.allowed.check(ip, family)) return true;
    if (this.denied.check(ip, family)) return false;
    const v4 = version === 6 ? embeddedIpv4(ip) : undefined;
    return v4 === undefined || this.allowed.check(v4, 'ipv4') || !this.denied.check(v4, 'ipv4');
  }
}
