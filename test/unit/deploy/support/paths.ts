import { join, resolve } from 'node:path';

/** Repository root, and the deployment files the tests read. */
export const ROOT = resolve(__dirname, '..', '..', '..', '..');
export const MANIFESTS = join(ROOT, 'manifests');
export const BASE = join(MANIFESTS, 'base');
/** Prometheus Operator rules, ServiceMonitor and the Grafana dashboard (applied separately). */
export const OBSERVABILITY = join(MANIFESTS, 'observability');
/** GPU Deployments + ScaledObjects that `npm run manifests` writes from the registry. */
export const GENERATED = join(BASE, 'generated');
/** Kustomize components an overlay may add (KEDA's authentication to Temporal). */
export const COMPONENTS = ['temporal-api-key', 'temporal-mtls'].map((c) => join(MANIFESTS, 'components', c));
/** Files under manifests/ that another tool reads, not kustomize (relative to manifests/). */
export const NOT_KUSTOMIZE = [
  'gpu-pods.yaml',
  'temporal/values.yaml',
  'compose/prometheus.yml',
  'compose/temporal-dynamic-config.yaml',
  'compose/grafana/datasources.yaml',
  'compose/grafana/dashboards.yaml',
];
export const OVERLAYS = ['dev', 'prod'].map((o) => join(MANIFESTS, 'overlays', o));
export const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
export const DOCKERFILE = join(ROOT, 'Dockerfile');
export const DOCKERIGNORE = join(ROOT, '.dockerignore');
