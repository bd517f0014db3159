import { z } from 'zod';

type JsonSchema = Record<string, unknown>;

/**
 * A zod schema as JSON Schema 2020-12 (the dialect of OpenAPI 3.1), seen from the client's side
 * (`io: 'input'`: what a request may send, before transforms and defaults). Schemas with a `.meta({ id })`
 * go into `components` and are referenced, so `defs` collects them across the whole document.
 */
export function toJsonSchema(schema: z.ZodType, defs: Record<string, JsonSchema>): JsonSchema {
  const out = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
  }) as JsonSchema;
  relink(out);
  const { $schema: _dialect, $defs, ...rest } = out;
  Object.assign(defs, ($defs as Record<string, JsonSchema> | undefined) ?? {});
  // A schema that is itself a component comes back as its definition plus an `id`.
  if (typeof rest.id === 'string') {
    const { id, ...def } = rest;
    defs[id] = def;
    return { $ref: `#/components/schemas/${id}` };
  }
  return rest;
}

/** Points `#/$defs/X` references at `#/components/schemas/X`, where the definitions are hoisted. */
function relink(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(relink);
  if (!node || typeof node !== 'object') return;
  const o = node as JsonSchema;
  if (typeof o.$ref === 'string') o.$ref = o.$ref.replace(/^#\/\$defs\//, '#/components/schemas/');
  Object.values(o).forEach(relink);
}

/** The properties of an object schema, for query and path parameters. */
export function objectProperties(
  schema: z.ZodType,
  defs: Record<string, JsonSchema>,
): { name: string; schema: JsonSchema; required: boolean; description?: string }[] {
  const s = toJsonSchema(schema, defs);
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((s.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, p]) => ({
    name,
    schema: p,
    required: required.has(name),
    ...(typeof p.description === 'string' ? { description: p.description } : {}),
  }));
}
