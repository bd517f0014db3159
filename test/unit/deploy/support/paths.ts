import { join, resolve } from 'node:path';

/** Repository root, and the deployment files the tests read. */
export const ROOT = resolve(__dirname, '..', '..', '..', '..');
export const MANIFESTS = join(ROOT, 'manifests');
export const BASE = join(MANIFESTS, 'base');
/** Prometheus Operator rules, ServiceMonitor and the Grafana dashboard (applied separately). */
export const OBSERVABILITY = join(MANIFESTS, 'observability');
export const OVERLAYS = ['dev', 'prod'].map((o) => join(MANIFESTS, 'overlays', o));
export const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
export const DOCKERFILE = join(ROOT, 'Dockerfile');
export const DOCKERIGNORE = join(ROOT, '.dockerignore');
