import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Image, imageOf } from './dockerfile';
import { findKubectl, kustomizeBuild, loadKustomizationDocs } from './kustomize';
import type { ManifestSet } from './manifest-checks';
import { BASE, DOCKERFILE } from './paths';
import { type K8sDoc, readYamlDocs } from './yaml-docs';

export const SECRET_TEMPLATE = join(BASE, 'secret.template.yaml');

/** Stands in for the random values a user puts where the template says CHANGE-ME. */
const USER_VALUE = '7c1e9a0b5d3f4e2a8b6c0d9e1f2a3b4c';
/** Values whose format a placeholder substitution cannot meet: a user puts a whole key there. */
const USER_VALUES: Record<string, string> = { PAYLOAD_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` };

/** The Secret as a user creates it from `template`: every change-me placeholder replaced by a real value. */
export function secretAsCreated(template: K8sDoc): K8sDoc {
  const filled = Object.entries(template.stringData ?? {}).map(([k, v]) => [
    k,
    USER_VALUES[k] ?? v.replace(/change-?me/gi, USER_VALUE),
  ]);
  return { ...template, stringData: Object.fromEntries(filled) as Record<string, string> };
}

export const readSecretTemplate = (): K8sDoc => readYamlDocs(SECRET_TEMPLATE)[0] as K8sDoc;
const secretTemplate = (): K8sDoc => secretAsCreated(readSecretTemplate());
const image = (): Image => imageOf(readFileSync(DOCKERFILE, 'utf8'));

/** The base as kustomize would emit it (generated ConfigMaps without their hash suffix). */
export const baseSet = (): ManifestSet => ({
  docs: loadKustomizationDocs(BASE),
  secretTemplate: secretTemplate(),
  image: image(),
});

/** An overlay rendered by `kubectl kustomize` (generated names carry their hash suffix). */
export const renderedSet = (kubectl: string, dir: string): ManifestSet => ({
  docs: kustomizeBuild(kubectl, dir),
  secretTemplate: secretTemplate(),
  image: image(),
});

/**
 * kubectl renders the overlays (its built-in kustomize). Where there is none, the overlay tests are
 * skipped and say so; the base is checked either way.
 */
export const KUBECTL = findKubectl();
if (!KUBECTL) console.warn('kubectl not found (set KUBECTL): rendering of the overlays is not checked');
