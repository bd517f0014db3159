import type { Express } from 'express';

/** A route mounted on an express app. */
export interface MountedRoute {
  method: string;
  path: string;
}

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  slash?: boolean;
  name?: string;
}

/**
 * Every route of an express 5 app (routers mounted at the root, as createApp mounts them). A router
 * mounted under a path would hide its prefix, so it is refused rather than listed wrongly.
 */
export function mountedRoutes(app: Express): MountedRoute[] {
  const out: MountedRoute[] = [];
  const walk = (stack: Layer[]): void => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths)
          for (const [method, on] of Object.entries(layer.route.methods))
            if (on && method !== '_all') out.push({ method, path });
      } else if (layer.name === 'router' && layer.handle?.stack) {
        if (!layer.slash) throw new Error('a router mounted under a path: mount routers at the root');
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return out;
}
