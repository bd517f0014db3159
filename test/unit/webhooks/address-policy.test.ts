import { AddressPolicy, embeddedIpv4 } from '../../../src/webhooks/address-policy';
import { checkWebhookUrl, WebhookUrlError } from '../../../src/webhooks/webhook-url';

const policy = new AddressPolicy();

test.each([
  // IPv4-mapped, in every textual form.
  ['::ffff:127.0.0.1', 'mapped, dotted'],
  ['::ffff:7f00:1', 'mapped, hex'],
  ['0:0:0:0:0:ffff:7f00:0001', 'mapped, uncompressed'],
  ['::FFFF:169.254.169.254', 'mapped metadata, upper case'],
  ['::ffff:a9fe:a9fe', 'mapped metadata, hex'],
  ['::ffff:10.0.0.1', 'mapped private'],
  // SIIT (IPv4-translated).
  ['::ffff:0:7f00:1', 'SIIT loopback'],
  // IPv4-compatible ::/96.
  ['::127.0.0.1', 'compatible loopback'],
  ['::7f00:1', 'compatible loopback, hex'],
  ['::a00:1', 'compatible 10.0.0.1'],
  ['::c0a8:101', 'compatible 192.168.1.1'],
  // 6to4 embedding a private IPv4.
  ['2002:7f00:1::', '6to4 of 127.0.0.1'],
  ['2002:a9fe:a9fe::1', '6to4 of the metadata address'],
  ['2002:c0a8:0101:1::1', '6to4 of 192.168.1.1'],
  ['2002:0a00:0001::', '6to4 of 10.0.0.1'],
  // NAT64 (RFC 6052 /96) of a private IPv4, and the local-use /48.
  ['64:ff9b::7f00:1', 'NAT64 of 127.0.0.1'],
  ['64:ff9b::169.254.169.254', 'NAT64 of the metadata address'],
  ['64:ff9b:1::1', 'local-use NAT64'],
  // Teredo: relay-chosen, denied whole.
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
  // Plain private, link-local and metadata addresses (they held before; still hold).
  ['127.0.0.1', 'loopback'],
  ['169.254.169.254', 'metadata'],
  ['100.100.100.200', 'CGNAT (Alibaba metadata)'],
  ['fd00:ec2::254', 'ULA (AWS IPv6 metadata)'],
  ['fe80::1%eth0', 'link-local with a zone'],
  ['::1', 'IPv6 loopback'],
  ['::', 'unspecified'],
])('%s (%s) is refused', (address) => {
  expect(policy.allows(address)).toBe(false);
});

test.each([
  ['93.184.215.14', 'public IPv4'],
  ['2606:2800:21f:cb07:6820:80da:af6b:8b2c', 'public IPv6'],
  ['::ffff:93.184.215.14', 'mapped public'],
  ['64:ff9b::93.184.215.14', 'NAT64 of a public address (IPv6-only clusters)'],
  ['2002:5db8:d70e::1', '6to4 of a public address'],
])('%s (%s) is allowed', (address) => {
  expect(policy.allows(address)).toBe(true);
});

test('the IPv4 address inside each transition form', () => {
  expect(embeddedIpv4('::ffff:7f00:1')).toBe('127.0.0.1');
  expect(embeddedIpv4('::ffff:0:a00:1')).toBe('10.0.0.1');
  expect(embeddedIpv4('::c0a8:101')).toBe('192.168.1.1');
  expect(embeddedIpv4('64:ff9b::a9fe:a9fe')).toBe('169.254.169.254');
  expect(embeddedIpv4('2002:ac10:0001:ff::')).toBe('172.16.0.1');
  expect(embeddedIpv4('2606:2800:21f:cb07:6820:80da:af6b:8b2c')).toBeUndefined();
  expect(embeddedIpv4('127.0.0.1')).toBeUndefined();
});

test('an operator allowance covers the embedded forms of the allowed range too', () => {
  const allowed = new AddressPolicy({ allowedCidrs: ['10.1.0.0/16'] });
  expect(allowed.allows('::ffff:10.1.2.3')).toBe(true);
  expect(allowed.allows('2002:0a01:0203::')).toBe(true);
  expect(allowed.allows('::ffff:10.2.0.1')).toBe(false);
  expect(new AddressPolicy({ allowPrivate: true }).allows('::ffff:7f00:1')).toBe(true);
});

test.each([
  'http://[::ffff:127.0.0.1]/hook',
  'http://[::ffff:7f00:1]/hook',
  'http://[::127.0.0.1]/hook',
  'http://[2002:7f00:1::]/hook',
  'http://[64:ff9b::a9fe:a9fe]/latest/meta-data',
  // Decimal, hex, octal and short IPv4 literals: the URL parser writes them as 127.0.0.1.
  'http://2130706433/hook',
  'http://0x7f.1/hook',
  'http://0x7f000001/hook',
  'http://017700000001/hook',
  'http://0177.0.0.1/hook',
  'http://127.1/hook',
  'http://0251.0376.0251.0376/latest/meta-data',
])('webhook URL %s is refused before any request', async (url) => {
  await expect(checkWebhookUrl(url, policy)).rejects.toBeInstanceOf(WebhookUrlError);
  await expect(checkWebhookUrl(url, policy)).rejects.toThrow(/private, loopback, link-local or metadata/);
});
