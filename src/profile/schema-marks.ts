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

/** What a path field names; load.ts checks that it exists as that. */
export type PathKind = 'file' | 'directory';

/** A path in the profile: relative to the profile file's directory, or absolute; naming an existing `kind`. */
export function profilePath(kind: PathKind = 'file') {
  return z
    .string()
    .min(1)
    .refine((p) => !p.includes('\0'), 'expected a path without NUL characters')
    .meta({ profilePath: kind });
}

/** Every field below `schema` whose field carries `mark`, with the mark's value (a marked field's children are not listed). */
export function markedEntries(schema: Schema, mark: Mark, at: FieldPath = []): [FieldPath, unknown][] {
  const value = metaOf(schema, mark);
  if (value !== undefined && value !== false) return [[at, value]];
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) return Object.entries(inner.shape as Record<string, Schema>).flatMap(([k, v]) => markedEntries(v, mark, [...at, k]));
  if (inner instanceof z.ZodArray) return markedEntries(inner.element, mark, [...at, '*']);
  if (inner instanceof z.ZodRecord) return markedEntries(inner.valueType, mark, [...at, '*']);
  if (inner instanceof z.ZodUnion) {
    const options = (inner.options as readonly Schema[]).flatMap((o) => markedEntries(o, mark, at));
    return [...new Map(options.map((e) => [e[0].join('\0'), e])).values()];
  }
  return [];
}

/** Every field path below `schema` whose field carries `mark`. */
export function markedFields(schema: Schema, mark: Mark): FieldPath[] {
  return markedEntries(schema, mark).map(([field]) => field);
}

/** The profile's path fields and what each names. */
export function pathFields(schema: Schema): { field: FieldPath; kind: PathKind }[] {
  return markedEntries(schema, 'profilePath').map(([field, kind]) => ({ field, kind: kind === 'directory' ? 'directory' : 'file' }));
}

type Visit = (value: unknown, parent: Record<string, unknown> | unknown[], key: string | number, at: readonly (string | number)[]) => void;

/** Calls `fn` for every value at `field` in `data` with its parent, key and key path, so it can replace it. */
export function forEachAt(data: unknown, field: FieldPath, fn: Visit, at: readonly (string | number)[] = []): void {
  const [head, ...rest] = field;
  if (head === undefined || data === null || typeof data !== 'object') return;
  const entries: [string | number, unknown][] =
    head === '*' ? (Array.isArray(data) ? data.map((v, i) => [i, v]) : Object.entries(data)) : Array.isArray(data) ? [] : [[head, (data as Record<string, unknown>)[head]]];
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    if (rest.length === 0) fn(value, data as Record<string, unknown> | unknown[], key, [...at, key]);
    else forEachAt(value, rest, fn, [...at, key]);
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
