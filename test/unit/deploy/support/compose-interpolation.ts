/**
 * Compose's variable interpolation (https://docs.docker.com/reference/compose-file/interpolation/),
 * as much of it as these checks need: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?message}`, `${VAR?message}`, `${VAR:+alt}`, `${VAR+alt}`. Defaults are taken literally
 * (no nested interpolation).
 */
export interface Interpolated {
  value: string;
  /** Variables a `?` form requires that `shell` does not provide: compose refuses to start. */
  missing: string[];
}

const VAR = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

export function interpolate(text: string, shell: Readonly<Record<string, string | undefined>>): Interpolated {
  const missing: string[] = [];
  const value = text.replace(
    VAR,
    (whole, braced?: string, colon?: string, op?: string, arg?: string, bare?: string): string => {
      if (whole === '$$') return '$';
      const name = (braced ?? bare)!;
      const v = shell[name];
      // With the colon an empty value counts as unset.
      const set = colon ? v !== undefined && v !== '' : v !== undefined;
      if (op === '-') return set ? v! : arg!;
      if (op === '+') return set ? arg! : '';
      if (op === '?' && !set) missing.push(name);
      return v ?? '';
    },
  );
  return { value, missing };
}

/** Whether `text` takes `name` from the environment and refuses to start without it (`${name:?…}`). */
export const requiresFromEnvironment = (text: string, name: string): boolean =>
  new RegExp(`^\\$\\{${name}:\\?[^}]+\\}$`).test(text);
