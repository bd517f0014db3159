import { embeddedPlaceholderSecret } from '../../../../src/config/secret-rules';

/**
 * Every string in `value` (a parsed YAML document, recursively) that carries a
 * development default secret or a `change-me` placeholder, as `where: path: found`. The rules are
 * the config schema's (src/config/secret-rules.ts).
 */
export function placeholderSecrets(value: unknown, where: string, path: string[] = []): string[] {
  if (typeof value === 'string') {
    const found = embeddedPlaceholderSecret(value);
    return found ? [`${where}: ${path.join('.') || '(value)'}: carries "${found}"`] : [];
  }
  if (Array.isArray(value))
    return value.flatMap((v, i) => placeholderSecrets(v, where, [...path, String(i)]));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => placeholderSecrets(v, where, [...path, k]));
  return [];
}
