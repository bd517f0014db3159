import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressPolicy } from '../../../src/webhooks/address-policy';
import { kustomizeBuild } from './support/kustomize';
import { KUBECTL, baseSet } from './support/manifest-set';
import { changed } from './support/mutate';
import { egressAllowed } from './support/network-policy';
import { BASE, MANIFESTS, OVERLAYS } from './support/paths';
import { find } from './support/workloads';
import { type K8sDoc, parseEnvFile } from './support/yaml-docs';

/**
 * The orchestration worker delivers webhooks: the egress NetworkPolicy must let it reach public
 * receivers (issue 26: every delivery timed out for 24 h) and nothing private, and the policy and the
 * worker's own address check (src/webhooks/address-policy.ts) must agree.
 */
const base = baseSet().docs;
const overlayTest = KUBECTL ? test : test.skip;
const WORKER = { 'app.kubernetes.io/component': 'orchestration-worker' };
const API = { 'app.kubernetes.io/component': 'api' };

const PUBLIC = ['93.184.215.14', '8.8.8.8', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'];
const PRIVATE = [
  '10.0.0.5',
  '172.16.0.1',
  '192.168.1.1',
  '169.254.169.254',
  '100.64.0.1',
  '127.0.0.1',
  'fd00:ec2::254',
  'fe80::1',
];

/** What the worker may reach on the webhook ports, per the policies in `docs`. */
function webhookReach(docs: K8sDoc[], labels = WORKER): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const ip of [...PUBLIC, ...PRIVATE])
    for (const port of [443, 80]) out[`${ip} ${port}`] = egressAllowed(docs, labels, ip, port);
  return out;
}
const expected = (publicOk: boolean): Record<string, boolean> =>
  Object.fromEntries(
    [
      ...PUBLIC.map((ip): [string, boolean] => [ip, publicOk]),
      ...PRIVATE.map((ip): [string, boolean] => [ip, false]),
    ].flatMap(([ip, ok]) => [
      [`${ip} 443`, ok],
      [`${ip} 80`, ok],
    ]),
  );

test('the orchestration worker reaches public receivers on 443 and 80, and no private, metadata or loopback one', () => {
  expect(webhookReach(base)).toEqual(expected(true));
  // Other ports stay closed (5432 and 6379 are the stores').
  expect(egressAllowed(base, WORKER, '93.184.215.14', 8443)).toBe(false);
  expect(egressAllowed(base, WORKER, '93.184.215.14', 22)).toBe(false);
});

test('only the worker delivers: the API and the codec server reach no public address', () => {
  expect(webhookReach(base, API)).toEqual(expected(false));
  expect(egressAllowed(base, { 'app.kubernetes.io/component': 'codec-server' }, '93.184.215.14', 443)).toBe(
    false,
  );
});

test('the policy agrees with the worker: every address it lets through, the worker accepts', () => {
  const policy = new AddressPolicy();
  for (const ip of [...PUBLIC, ...PRIVATE])
    if (egressAllowed(base, WORKER, ip, 443))
      expect({ ip, worker: policy.allows(ip) }).toEqual({ ip, worker: true });
  // And WEBHOOK_ALLOWED_CIDRS of the config, where set, must be reachable too.
  const config = parseEnvFile(readFileSync(join(BASE, 'config.env'), 'utf8'));
  for (const cidr of (config.WEBHOOK_ALLOWED_CIDRS ?? '').split(',').filter(Boolean))
    expect({ cidr, reachable: egressAllowed(base, WORKER, cidr.split('/')[0]!, 443) }).toEqual({
      cidr,
      reachable: true,
    });
});

test('without the webhook policy (as before) every delivery is blocked: the check catches it', () => {
  const without = changed(
    { docs: base },
    (s) => void (s.docs = s.docs.filter((d) => d.metadata.name !== 'inference-webhook-egress')),
  ).docs;
  expect(Object.values(webhookReach(without)).some(Boolean)).toBe(false);
  const noExcept = changed({ docs: base }, (s) => {
    const p = find(s.docs, 'NetworkPolicy', 'inference-webhook-egress')!;
    for (const peer of p.spec.egress[0].to) delete peer.ipBlock.except;
  }).docs;
  expect(webhookReach(noExcept)['169.254.169.254 80']).toBe(true);
});

overlayTest.each(OVERLAYS.map((d) => [d.split('/').pop()!, d]))(
  'overlay %s keeps webhook egress',
  (_n, dir) => {
    expect(webhookReach(kustomizeBuild(KUBECTL!, dir))).toEqual(expected(true));
  },
);

/** The patch docs/deploy.md gives for receivers on another port and inside the network. */
const WEBHOOK_EGRESS_PATCH = readFileSync(join(MANIFESTS, '..', 'docs', 'deploy.md'), 'utf8').match(
  /<!-- webhook-egress-patch -->\s*```yaml\n([\s\S]*?)```/,
)?.[1];

overlayTest('the documented kustomize patch changes the ports and adds a private range', () => {
  expect(WEBHOOK_EGRESS_PATCH).toBeDefined();
  const root = mkdtempSync(join(tmpdir(), 'manifests-'));
  try {
    cpSync(MANIFESTS, root, { recursive: true });
    const dir = join(root, 'overlays', 'webhooks');
    mkdirSync(dir);
    writeFileSync(join(dir, 'kustomization.yaml'), WEBHOOK_EGRESS_PATCH!);
    const docs = kustomizeBuild(KUBECTL!, dir);
    expect(egressAllowed(docs, WORKER, '93.184.215.14', 8443)).toBe(true);
    expect(egressAllowed(docs, WORKER, '93.184.215.14', 80)).toBe(false);
    expect(egressAllowed(docs, WORKER, '10.20.1.2', 8443)).toBe(true);
    expect(egressAllowed(docs, WORKER, '10.21.0.1', 8443)).toBe(false);
    expect(egressAllowed(docs, WORKER, '169.254.169.254', 8443)).toBe(false);
    // The worker's own check lets the same range through.
    const config = docs.find(
      (d) => d.kind === 'ConfigMap' && d.metadata.name.startsWith('inference-config'),
    )!;
    expect((config.data as Record<string, string>).WEBHOOK_ALLOWED_CIDRS).toBe('10.20.0.0/16');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
