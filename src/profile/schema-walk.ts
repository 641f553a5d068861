/**
 * Reading the profile schema as data: the docs generator renders it, and the error
 * reporter asks it which keys are allowed where (zod's unrecognized_keys issue does not say).
 */
import * as z from 'zod';

type Schema = z.core.$ZodType;

/** One wrapper that does not change what the YAML looks like, peeled off. */
function unwrapOnce(schema: Schema): Schema | undefined {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault) {
    return schema.unwrap();
  }
  return schema instanceof z.ZodPipe ? schema.in : switchableSection(schema);
}

/** `false | X`: a section that `false` switches off (e.g. `bootMenu: false`); X. */
function switchableSection(schema: Schema): Schema | undefined {
  if (!(schema instanceof z.ZodUnion) || schema.options.length !== 2) return undefined;
  const on = schema.options.filter((o) => !(o instanceof z.ZodLiteral && o.value === false));
  return on.length === 1 ? on[0] : undefined;
}

/** Whether `false` is accepted in place of the section (see switchableSection). */
export function acceptsFalse(schema: Schema): boolean {
  if (switchableSection(schema) !== undefined) return true;
  const inner = unwrapOnce(schema);
  return inner !== undefined && !(inner instanceof z.ZodObject) && acceptsFalse(inner);
}

/** Strips optional / default / prefault / transform wrappers. */
export function unwrap(schema: Schema): Schema {
  const inner = unwrapOnce(schema);
  return inner === undefined ? schema : unwrap(inner);
}

/** A metadata entry (.describe() / .meta()) of the outermost wrapper that has it. */
export function metaOf(schema: Schema, key: string): unknown {
  const own = z.globalRegistry.get(schema)?.[key];
  if (own !== undefined) return own;
  const inner = unwrapOnce(schema);
  return inner === undefined ? undefined : metaOf(inner, key);
}

export function descriptionOf(schema: Schema): string | undefined {
  const description = metaOf(schema, 'description');
  return typeof description === 'string' ? description : undefined;
}

/** The default of a field, if it has one (`{ value }` so that a default of undefined is distinguishable). */
export function defaultOf(schema: Schema): { value: unknown } | undefined {
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault) return { value: schema.def.defaultValue };
  if (schema instanceof z.ZodOptional) return defaultOf(schema.unwrap());
  return undefined;
}

export function isOptional(schema: Schema): boolean {
  return schema instanceof z.ZodOptional || schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault;
}

/** The schema of the value at one key / index below `schema`. */
export function childAt(schema: Schema, segment: PropertyKey): Schema | undefined {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) return inner.shape[String(segment)];
  if (inner instanceof z.ZodArray) return inner.element;
  if (inner instanceof z.ZodRecord) return inner.valueType;
  return undefined;
}

/** The keys allowed in the mapping at `path`, or undefined if it is not an object. */
export function objectKeysAt(root: Schema, path: readonly PropertyKey[]): string[] | undefined {
  let schema: Schema | undefined = root;
  for (const segment of path) schema = schema === undefined ? undefined : childAt(schema, segment);
  const inner = schema === undefined ? undefined : unwrap(schema);
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : undefined;
}
