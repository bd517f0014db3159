import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Below this, ports belong to well-known services (PostgreSQL, Redis, Temporal, the stack's own). */
const LOWEST = 10_000;
const FALLBACK_EPHEMERAL: [number, number] = [32_768, 60_999];

/**
 * The kernel's ephemeral range: every outgoing connection (to PostgreSQL, Redis, Temporal) takes its
 * local port from it. A port picked there and handed to a child process can be taken as such a
 * source port before the child binds it (EADDRINUSE, seen in CI), so ports are picked outside it.
 */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (lo && hi && lo <= hi) return [lo, hi];
  } catch {
    // not Linux: the range most systems use
  }
  return FALLBACK_EPHEMERAL;
}

/** The range ports are picked from: below the ephemeral range, or above it when it starts too low. */
export function pickRange(ephemeral: [number, number] = ephemeralRange()): [number, number] {
  const [lo, hi] = ephemeral;
  if (lo - LOWEST >= 2_000) return [LOWEST, lo - 1];
  if (65_535 - hi >= 2_000) return [hi + 1, 65_535];
  return [LOWEST, 65_535];
}

/** Whether `port` can be listened on, on every address, right now. */
export function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    // All addresses: the stack's processes listen on 0.0.0.0 or 127.0.0.1.
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

/** Handed out by this process already: not handed out twice, even before its user binds it. */
const handedOut = new Set<number>();

/** A TCP port nobody listens on right now, outside the range outgoing connections take theirs from. */
export async function freePort(): Promise<number> {
  const [from, to] = pickRange();
  for (let i = 0; i < 200; i++) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free TCP port found in ${from}-${to}`);
}

/** A tuple of `N` numbers, so `const [a, b] = await freePorts(2)` needs no cast. */
export type Ports<N extends number, T extends number[] = []> = T['length'] extends N
  ? T
  : Ports<N, [...T, number]>;

/** `n` distinct TCP ports nobody listens on right now (one process's ports, or a whole stack's). */
export async function freePorts<N extends number>(n: N): Promise<Ports<N>> {
  const ports: number[] = [];
  while (ports.length < n) ports.push(await freePort());
  return ports as Ports<N>;
}
