/**
 * Marks on profile schema fields, and the field paths they mark. `profilePath`: a path relative to the profile file's
 * directory (made absolute on load). `stageCache`: what the stages before the stage-cache point read (unpack,
 * pre-customize hooks, chroot commands, package payload), so it is part of the cached rootfs's key (stage-cache.ts).
 */
import * as z from 'zod';
import { metaOf, unwrap } from './schema-walk.js';

type Schema = z.core.$ZodType;
export type Mark = 'profilePath' | 'stageCache';
/** A field path; `*` stands for every element of a list or every value of a mapping. */
export type FieldPath = readonly (string | '*')[];

/** A path in the profile: relative to the profile file's directory, or absolute. */
export function profilePath() {
  return z
    .string()
    .min(1)
    .refine((p) => !p.includes('\0'), 'expected a path without NUL characters')
    .meta({ profilePath: true });
}

/** Every field path below `schema` whose field carries `mark` (a marked field's own children are not listed again). */
export function markedFields(schema: Schema, mark: Mark, at: FieldPath = []): FieldPath[] {
  if (metaOf(schema, mark) === true) return [at];
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) return Object.entries(inner.shape as Record<string, Schema>).flatMap(([k, v]) => markedFields(v, mark, [...at, k]));
  if (inner instanceof z.ZodArray) return markedFields(inner.element, mark, [...at, '*']);
  if (inner instanceof z.ZodRecord) return markedFields(inner.valueType, mark, [...at, '*']);
  if (inner instanceof z.ZodUnion) {
    const options = (inner.options as readonly Schema[]).flatMap((o) => markedFields(o, mark, at));
    return [...new Map(options.map((p) => [p.join('\0'), p])).values()];
  }
  return [];
}

/** Calls `fn` for every value at `field` in `data` with its parent and key, so it can replace it. */
export function forEachAt(data: unknown, field: FieldPath, fn: (value: unknown, parent: Record<string, unknown> | unknown[], key: string | number) => void): void {
  const [head, ...rest] = field;
  if (head === undefined || data === null || typeof data !== 'object') return;
  const entries: [string | number, unknown][] =
    head === '*' ? (Array.isArray(data) ? data.map((v, i) => [i, v]) : Object.entries(data)) : Array.isArray(data) ? [] : [[head, (data as Record<string, unknown>)[head]]];
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    if (rest.length === 0) fn(value, data as Record<string, unknown> | unknown[], key);
    else forEachAt(value, rest, fn);
  }
}

/** The values of the marked fields, by their dotted field path (absent fields left out): stable input for a hash. */
export function markedValues(data: unknown, fields: readonly FieldPath[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    const values: unknown[] = [];
    forEachAt(data, field, (v) => values.push(v));
    if (values.length > 0) out[field.join('.')] = field.includes('*') ? values : values[0];
  }
  return out;
}
