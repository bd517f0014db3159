import type { Registry } from 'prom-client';

/**
 * Makes `build` create its metrics once per registry: a module's metrics are registered on first use
 * and shared by every caller with the same registry (prom-client refuses a name registered twice).
 */
export function perRegistry<M>(
  build: (registers: { registers: Registry[] }) => M,
): (registry: Registry) => M {
  const made = new WeakMap<Registry, M>();
  return (registry) => {
    let m = made.get(registry);
    if (!m) {
      m = build({ registers: [registry] });
      made.set(registry, m);
    }
    return m;
  };
}
