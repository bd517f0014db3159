import { BlockList, isIP } from 'node:net';
import type { K8sDoc } from './yaml-docs';

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
interface Peer {
  ipBlock?: { cidr: string; except?: string[] };
  namespaceSelector?: Selector;
  podSelector?: Selector;
}
interface EgressRule {
  to?: Peer[];
  ports?: { protocol?: string; port?: number | string; endPort?: number }[];
}

const selects = (sel: Selector, labels: Record<string, string>): boolean =>
  Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
  (sel.matchExpressions ?? []).every((e) => {
    const has = (e.values ?? []).includes(labels[e.key] ?? '\0');
    if (e.operator === 'In') return has;
    if (e.operator === 'NotIn') return !has;
    if (e.operator === 'Exists') return e.key in labels;
    return !(e.key in labels);
  });

const family = (ip: string): 'ipv4' | 'ipv6' => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');
/** Whether `ip` lies in `cidr` (an address of the other family never does). */
function inCidr(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split('/');
  if (family(ip) !== family(net!)) return false;
  const list = new BlockList();
  list.addSubnet(net!, Number(bits), family(net!));
  return list.check(ip, family(ip));
}

/**
 * Whether NetworkPolicy lets a pod with `labels` open a TCP connection to `ip:port` outside the
 * cluster, as the API server's semantics say: allowed when no policy with Egress selects the pod, or
 * when a rule of one of them matches the port and has an `ipBlock` holding the address (outside its
 * `except`) or no `to` at all. Pod and namespace selectors name pods, never an outside address.
 */
export function egressAllowed(
  docs: K8sDoc[],
  labels: Record<string, string>,
  ip: string,
  port: number,
): boolean {
  const policies = docs.filter(
    (d) =>
      d.kind === 'NetworkPolicy' &&
      (d.spec.policyTypes as string[]).includes('Egress') &&
      selects(d.spec.podSelector as Selector, labels),
  );
  if (!policies.length) return true;
  return policies.some((p) =>
    ((p.spec.egress ?? []) as EgressRule[]).some((rule) => {
      const portOk =
        !rule.ports?.length ||
        rule.ports.some(
          (r) =>
            (r.protocol ?? 'TCP') === 'TCP' &&
            (r.port === undefined || (Number(r.port) <= port && port <= (r.endPort ?? Number(r.port)))),
        );
      const peerOk =
        !rule.to?.length ||
        rule.to.some(
          (peer) =>
            !!peer.ipBlock &&
            inCidr(ip, peer.ipBlock.cidr) &&
            !(peer.ipBlock.except ?? []).some((c) => inCidr(ip, c)),
        );
      return portOk && peerOk;
    }),
  );
}
