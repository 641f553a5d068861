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
import { forEachAt, markedFields, type FieldPath } from './schema-marks.js';

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

/** Path fields of a profile, made absolute against the directory of the file that wrote them. */
export function absolutizePaths(data: unknown, dir: string): void {
  pathFields ??= markedFields(ProfileDocumentSchema, 'profilePath');
  for (const field of pathFields) {
    forEachAt(data, field, (value, parent, key) => {
      // A URL (a chart repo may be one) is not a path.
      if (typeof value !== 'string' || value === '' || value.startsWith('${') || path.isAbsolute(value) || /^[a-z][a-z0-9+.-]*:\/\//.test(value)) return;
      if (Array.isArray(parent)) parent[Number(key)] = path.resolve(dir, value);
      else parent[String(key)] = path.resolve(dir, value);
    });
  }
}

/** The profile's path fields, as the schema marks them (schema-marks.ts). */
let pathFields: FieldPath[] | undefined;

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

/** Replaces `${NAME}` in every string (not in `vars:` itself) from the environment, then `vars`; `$${` is a literal `${`. */
export function interpolate(data: unknown, env: Record<string, string | undefined>): { data: unknown; problems: Problem[] } {
  const problems: Problem[] = [];
  const vars = isPlainObject(data) && isPlainObject(data['vars']) ? (data['vars'] as Record<string, unknown>) : {};
  const lookup = (name: string): string | undefined => {
    const fromEnv = env[name];
    if (fromEnv !== undefined) return fromEnv;
    const v = vars[name];
    return typeof v === 'string' ? v : undefined;
  };
  const walk = (value: unknown, at: PropertyKey[]): unknown => {
    if (typeof value === 'string') {
      if (!value.includes('${')) return value;
      return value.replace(VARIABLE, (match, name: string | undefined) => {
        if (name === undefined) return '${';
        if (!VAR_NAME.test(name)) {
          problems.push({ path: at, text: `${pathText(at)}: expected \${NAME} with a variable name ([A-Za-z_][A-Za-z0-9_]*), got ${JSON.stringify(match)}` });
          return match;
        }
        const v = lookup(name);
        if (v === undefined) {
          problems.push({
            path: at,
            text: `${pathText(at)}: unknown variable \${${name}} (not in vars: and not set in the environment)`,
            hint: `define it under vars:, export ${name}=..., or write $\${${name}} for a literal`,
          });
          return match;
        }
        return v;
      });
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...at, i]));
    if (isPlainObject(value)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, at.length === 0 && k === 'vars' ? v : walk(v, [...at, k])]));
    }
    return value;
  };
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
