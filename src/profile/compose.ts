/**
 * Composable profiles: `extends:` (a base profile this one is deep-merged onto) and `${VAR}` interpolation
 * from the environment and `vars:`. Both run on the plain YAML data before the schema sees it; every value
 * of the merged data remembers which file and key it came from, so errors still point at `file:line:col`.
 */
import path from 'node:path';
import { isAlias, isMap, isPair, isScalar, isSeq, type Node } from 'yaml';
import { usageError } from '../errors.js';
import { formatKeyPath, problemsError, type Problem, type ProfileSource } from './source.js';
import { ProfileDocumentSchema } from './schema.js';
import { forEachAt, pathFields } from './schema-marks.js';

export interface Layer {
  file: string;
  dir: string;
  source: ProfileSource;
  data: unknown;
  /** Key paths (JSON) of lists tagged `!replace`. */
  replaceLists: Set<string>;
}

export interface Origin {
  layer: number;
  path: PropertyKey[];
}

export type Origins = Map<string, Origin>;

const REPLACE_TAG = '!replace';

function key(p: readonly PropertyKey[]): string {
  return JSON.stringify(p.map((s) => (typeof s === 'number' ? s : String(s))));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Paths of the lists (and mappings) tagged `!replace` in a parsed profile. */
export function replaceTaggedLists(source: ProfileSource): Set<string> {
  const out = new Set<string>();
  const walk = (node: unknown, at: PropertyKey[]): void => {
    if (isAlias(node)) return;
    if (isSeq(node)) {
      if (node.tag === REPLACE_TAG) out.add(key(at));
      node.items.forEach((item, i) => walk(item, [...at, i]));
    } else if (isMap(node)) {
      if (node.tag === REPLACE_TAG) out.add(key(at));
      for (const pair of node.items) {
        if (isPair(pair) && isScalar(pair.key)) walk(pair.value as Node | null, [...at, String(pair.key.value)]);
      }
    }
  };
  walk(source.doc.contents, []);
  return out;
}

/** A URL (a chart repo may be one) is not a path. */
export function isUrl(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//.test(value);
}

/**
 * Path fields (the schema's profilePath marks) made absolute, each against `dirOf` its key path: the directory of the
 * profile that wrote it (pathDirs). Runs after interpolation and defaults, so `${VAR}/x` and default paths are covered.
 */
export function absolutizePaths(data: unknown, dirOf: string | ((at: readonly PropertyKey[]) => string)): void {
  for (const { field } of pathFieldsOf()) {
    forEachAt(data, field, (value, parent, key, at) => {
      if (typeof value !== 'string' || value === '' || path.isAbsolute(value) || isUrl(value)) return;
      const resolved = path.resolve(typeof dirOf === 'string' ? dirOf : dirOf(at), value);
      if (Array.isArray(parent)) parent[Number(key)] = resolved;
      else parent[String(key)] = resolved;
    });
  }
}

let pathFieldsMemo: ReturnType<typeof pathFields> | undefined;

/** The profile's path fields, as the schema marks them (schema-marks.ts). */
export function pathFieldsOf(): ReturnType<typeof pathFields> {
  pathFieldsMemo ??= pathFields(ProfileDocumentSchema);
  return pathFieldsMemo;
}

function valueAt(data: unknown, at: readonly PropertyKey[]): unknown {
  let node = data;
  for (const segment of at) node = isPlainObject(node) ? node[String(segment)] : Array.isArray(node) && typeof segment === 'number' ? node[segment] : undefined;
  return node;
}

/**
 * Which profile's directory a path at `at` of the merged (and defaulted) data is relative to: the layer that wrote the
 * value; for a default the schema filled in, the profile that first wrote its section (a later `!replace` of it starts
 * over), since the extending profile that wants its own file names it. (#13: a default was resolved against the
 * top profile's directory, validated, and failed late.)
 */
export function pathLayer(layers: readonly Layer[], origins: Origins, at: readonly PropertyKey[]): number {
  const own = origins.get(key(at));
  if (own !== undefined) return own.layer;
  let n = at.length;
  while (n > 0 && !origins.has(key(at.slice(0, n)))) n--;
  const section = at.slice(0, n);
  // Lists shift indices between layers; a default inside a list element belongs to that element's writer.
  if (n === 0 || section.some((s) => typeof s === 'number')) return originOf(origins, at).layer;
  let first: number | undefined;
  layers.forEach((layer, i) => {
    if (valueAt(layer.data, section) === undefined) return;
    const replaces = section.some((_, j) => layer.replaceLists.has(key(section.slice(0, j + 1))));
    if (first === undefined || replaces) first = i;
  });
  return first ?? originOf(origins, at).layer;
}

function annotate(value: unknown, at: PropertyKey[], origin: Origin, origins: Origins): void {
  origins.set(key(at), origin);
  if (Array.isArray(value)) value.forEach((v, i) => annotate(v, [...at, i], { layer: origin.layer, path: [...origin.path, i] }, origins));
  else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) annotate(v, [...at, k], { layer: origin.layer, path: [...origin.path, k] }, origins);
  }
}

function forget(at: PropertyKey[], origins: Origins): void {
  const prefix = key(at).slice(0, -1);
  for (const k of [...origins.keys()]) if (k.startsWith(prefix)) origins.delete(k);
}

/** Merges `over` (from layer `layer`) onto `base`: mappings merged, lists appended unless tagged !replace, the rest replaced. */
function mergeValue(base: unknown, over: unknown, at: PropertyKey[], layer: number, layerPath: PropertyKey[], layers: Layer[], origins: Origins): unknown {
  const replace = layers[layer]!.replaceLists.has(key(layerPath));
  if (isPlainObject(base) && isPlainObject(over) && !replace) {
    origins.set(key(at), { layer, path: layerPath });
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) {
      if (k in base) out[k] = mergeValue(base[k], v, [...at, k], layer, [...layerPath, k], layers, origins);
      else {
        annotate(v, [...at, k], { layer, path: [...layerPath, k] }, origins);
        out[k] = v;
      }
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over) && !replace) {
    origins.set(key(at), { layer, path: layerPath });
    over.forEach((v, i) => annotate(v, [...at, base.length + i], { layer, path: [...layerPath, i] }, origins));
    return [...base, ...over];
  }
  forget(at, origins);
  annotate(over, at, { layer, path: layerPath }, origins);
  return over;
}

/** The layers merged in order (base first): the data and where each value came from. */
export function mergeLayers(layers: Layer[]): { data: unknown; origins: Origins } {
  const origins: Origins = new Map();
  let data: unknown = undefined;
  layers.forEach((layer, i) => {
    if (i === 0) {
      annotate(layer.data, [], { layer: 0, path: [] }, origins);
      data = layer.data;
    } else {
      data = mergeValue(data, layer.data, [], i, [], layers, origins);
    }
  });
  if (isPlainObject(data)) delete data['extends'];
  return { data, origins };
}

const VARIABLE = /\$\$\{|\$\{([^}]*)\}/g;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces `${NAME}` in every string from the environment, then `vars` (whose values may use other variables; a cycle
 * among them is an error naming it); `$${` is a literal `${`. An environment value is taken as it is.
 */
export function interpolate(data: unknown, env: Record<string, string | undefined>): { data: unknown; problems: Problem[] } {
  const problems: Problem[] = [];
  const vars = isPlainObject(data) && isPlainObject(data['vars']) ? (data['vars'] as Record<string, unknown>) : {};
  const expanded = new Map<string, string | undefined>();
  const reported = new Set<string>();
  const report = (problem: Problem): void => {
    if (reported.has(problem.text)) return;
    reported.add(problem.text);
    problems.push(problem);
  };
  const lookup = (name: string, stack: readonly string[]): string | undefined => {
    const fromEnv = env[name];
    if (fromEnv !== undefined) return fromEnv;
    const v = vars[name];
    if (typeof v !== 'string') return undefined;
    if (stack.includes(name)) {
      const cycle = [...stack.slice(stack.indexOf(name)), name];
      report({
        path: ['vars', cycle[0]!],
        text: `vars.${cycle[0]!}: variables refer to each other: ${cycle.map((n) => `\${${n}}`).join(' -> ')}`,
        hint: 'give one of them a value that does not use the others',
      });
      return v;
    }
    if (!expanded.has(name)) expanded.set(name, expand(v, ['vars', name], [...stack, name]));
    return expanded.get(name);
  };
  const expand = (value: string, at: PropertyKey[], stack: readonly string[]): string => {
    if (!value.includes('${')) return value;
    return value.replace(VARIABLE, (match, name: string | undefined) => {
      if (name === undefined) return '${';
      if (!VAR_NAME.test(name)) {
        report({ path: at, text: `${pathText(at)}: expected \${NAME} with a variable name ([A-Za-z_][A-Za-z0-9_]*), got ${JSON.stringify(match)}` });
        return match;
      }
      const v = lookup(name, stack);
      if (v === undefined) {
        report({
          path: at,
          text: `${pathText(at)}: unknown variable \${${name}} (not in vars: and not set in the environment)`,
          hint: `define it under vars:, export ${name}=..., or write $\${${name}} for a literal`,
        });
        return match;
      }
      return v;
    });
  };
  const walk = (value: unknown, at: PropertyKey[]): unknown => {
    if (typeof value === 'string') return expand(value, at, []);
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...at, i]));
    if (isPlainObject(value)) {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, at.length === 0 && k === 'vars' && isPlainObject(v) ? expandVars(v) : walk(v, [...at, k])]),
      );
    }
    return value;
  };
  // Every variable is expanded (used or not), so a cycle or an unknown name in vars: is found where it is written;
  // templates see the values the profile's strings got (the environment's where it overrides).
  const expandVars = (v: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(v).map(([k, value]) => [k, typeof value === 'string' ? (lookup(k, []) ?? value) : value]));
  return { data: walk(data, []), problems };
}

function pathText(at: readonly PropertyKey[]): string {
  return at.length === 0 ? 'the profile' : formatKeyPath(at);
}

/** Where a key path of the merged data was written: the layer and its path there (longest known prefix). */
export function originOf(origins: Origins, at: readonly PropertyKey[]): Origin {
  for (let n = at.length; n >= 0; n--) {
    const o = origins.get(key(at.slice(0, n)));
    if (o !== undefined) return { layer: o.layer, path: [...o.path, ...at.slice(n)] };
  }
  return { layer: 0, path: [...at] };
}

/** One error for problems found in merged data, located in the file each problem's value came from (the last file first). */
export function composedProblemsError(layers: Layer[], origins: Origins, problems: readonly Problem[]): Error {
  if (layers.length === 1) return problemsError(layers[0]!.source, problems);
  const located = problems.map((p) => {
    const o = originOf(origins, p.path);
    return { layer: o.layer, problem: { ...p, path: o.path } };
  });
  const layer = Math.max(...located.map((l) => l.layer));
  const err = problemsError(layers[layer]!.source, located.filter((l) => l.layer === layer).map((l) => l.problem));
  const others = located.length - located.filter((l) => l.layer === layer).length;
  if (others === 0) return err;
  return usageError(err.message, `${err.hint ?? ''}${err.hint ? '; ' : ''}${others} more in the profiles it extends`);
}

/** Guards against `extends` cycles. */
export function checkCycle(chain: readonly string[], next: string, display: string): void {
  if (chain.includes(next)) {
    throw usageError(`${display}: extends: cycle: ${[...chain, next].map((f) => path.basename(f)).join(' -> ')}`, 'a profile may not extend itself');
  }
}
