/**
 * The Temporal server's own counters, from its Prometheus endpoint: RPCs (`service_requests`),
 * persistence operations (`persistence_requests`) and visibility writes
 * (`visibility_persistence_requests`), summed over every other label by operation. The dev server
 * counts an RPC in each of its services the call passes (frontend, history, matching), so a figure
 * is per service hop, the same for ours and the bare baseline.
 */
const FAMILIES: Record<string, string> = {
  service_requests: 'rpc',
  persistence_requests: 'persistence',
  visibility_persistence_requests: 'visibility',
};

/** Parses Prometheus text: `<kind> <operation>` -> summed value, for the families above. */
export function parseServerCounters(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{([^}]*)\} ([0-9.e+-]+)$/.exec(line);
    const kind = m && FAMILIES[m[1]!];
    if (!kind) continue;
    const op = /(?:^|,)operation="([^"]*)"/.exec(m[2]!)?.[1];
    if (!op) continue;
    const key = `${kind} ${op}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[3]));
  }
  return out;
}

/** Reads the counters at `url`; undefined when the server does not answer (the figures are skipped). */
export async function scrapeServerCounters(url: string): Promise<Map<string, number> | undefined> {
  // Twice, 10 s each: on a saturated 2-core host the server's page (thousands of series) took over
  // the 3 s this once allowed, and one missed scrape drops the whole comparison.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (res.ok) return parseServerCounters(await res.text());
    } catch {
      // tried again below
    }
  }
  return undefined;
}

/** Adds the counts between two scrapes to `into`. */
export function addDelta(into: Map<string, number>, before: Map<string, number>, after: Map<string, number>) {
  for (const [k, v] of after) into.set(k, (into.get(k) ?? 0) + v - (before.get(k) ?? 0));
}

/** Counts per request, at least `min` per request, sorted by name. */
export function perRequest(
  counts: Map<string, number>,
  requests: number,
  min = 0.05,
): Record<string, number> {
  return Object.fromEntries(
    [...counts]
      .map(([k, v]) => [k, Math.round((v / Math.max(1, requests)) * 100) / 100] as const)
      .filter(([, v]) => v >= min)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}
