/**
 * The `autoinstall:` section checked the way subiquity checks it, with subiquity's own JSON schema for the target
 * release (vendored in schemas/subiquity/, source and revision in its README). Order as in subiquity's
 * `SubiquityServer.validate_autoinstall` (subiquity/server/server.py, branch ubuntu/noble): its base schema (version,
 * interactive-sections), then unknown top-level keys, which autoinstall version 1 logs as a warning and drops
 * (`_enforce_top_level_keys`), then every known section against its schema.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { packageRoot } from '../package-root.js';
import { closestKey, describeValue, TYPE_NAMES, valueAt } from './issues.js';
import { formatKeyPath, type Problem } from './source.js';

/** subiquity's `SubiquityServer.base_schema`, checked before anything else. */
const BASE_SCHEMA = {
  type: 'object',
  properties: {
    version: { type: 'integer', minimum: 1, maximum: 1 },
    'interactive-sections': { type: 'array', items: { type: 'string' } },
  },
  required: ['version'],
  additionalProperties: true,
} as const;

export type SchemaRelease = '22.04' | '24.04';

/** The vendored schema for an Ubuntu release: 24.04's from 24.04 on, else 22.04's (the oldest this project targets). */
function schemaRelease(release: string): SchemaRelease {
  const [major = 0] = release.split('.').map(Number);
  return major >= 24 ? '24.04' : '22.04';
}

interface Compiled {
  base: ValidateFunction;
  sections: ValidateFunction;
  known: string[];
}

const compiled = new Map<SchemaRelease, Compiled>();

function compile(release: SchemaRelease): Compiled {
  const hit = compiled.get(release);
  if (hit) return hit;
  const schema = JSON.parse(readFileSync(join(packageRoot(), 'schemas/subiquity', `autoinstall-schema-${release}.json`), 'utf8')) as { properties: Record<string, unknown> };
  // As python-jsonschema's validate(), which subiquity calls: keywords it does not know are ignored (strict: false)
  // and `format` (proxy's "uri") is not asserted without a format checker (validateFormats: false).
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const c = {
    base: ajv.compile(BASE_SCHEMA),
    sections: ajv.compile(schema),
    known: [...new Set([...Object.keys(schema.properties), ...Object.keys(BASE_SCHEMA.properties)])],
  };
  compiled.set(release, c);
  return c;
}

export interface AutoinstallCheck {
  /** Errors, each at a path below the user-data root (`['autoinstall', 'packages']`). */
  problems: Problem[];
  /** Unknown top-level keys: subiquity warns and ignores them. */
  warnings: Problem[];
}

/** JSON Schema's type names (integer, null) besides zod's. */
const TYPES: Readonly<Record<string, string>> = { ...TYPE_NAMES, integer: 'an integer', null: 'an empty value' };

function pointerPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function problemOf(error: ErrorObject, config: unknown): Problem {
  const at = pointerPath(error.instancePath);
  const path = ['autoinstall', ...at];
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path, text: `${formatKeyPath([...path, String(params.missingProperty)])}: missing required key` };
    case 'additionalProperties':
      return { path: [...path, String(params.additionalProperty)], at: 'key', text: `unknown key "${String(params.additionalProperty)}" at ${formatKeyPath(path)}` };
    case 'type': {
      const types = String(params.type).split(',').map((t) => TYPES[t] ?? t);
      return { path, text: `${formatKeyPath(path)}: expected ${types.join(' or ')}, got ${describeValue(valueAt(config, at))}` };
    }
    case 'enum':
      return { path, text: `${formatKeyPath(path)}: expected one of: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(valueAt(config, at))}` };
    case 'const':
      return { path, text: `${formatKeyPath(path)}: expected ${JSON.stringify(params.allowedValue)}, got ${describeValue(valueAt(config, at))}` };
    default:
      return { path, text: `${formatKeyPath(path)}: ${error.message ?? error.keyword}, got ${describeValue(valueAt(config, at))}` };
  }
}

/** The errors ajv reports for one value: the specific ones, not the oneOf/anyOf that summarizes its branches. */
function specific(errors: readonly ErrorObject[]): ErrorObject[] {
  const summary = new Set(['oneOf', 'anyOf', 'if']);
  const detailed = errors.filter((e) => !summary.has(e.keyword));
  return detailed.length > 0 ? detailed : [...errors];
}

/** Checks the value of `autoinstall:` for an Ubuntu release. */
export function checkAutoinstall(config: unknown, release: string): AutoinstallCheck {
  const c = compile(schemaRelease(release));
  if (!c.base(config)) return { problems: specific(c.base.errors ?? []).map((e) => problemOf(e, config)), warnings: [] };
  const all = config as Record<string, unknown>;
  const unknown = Object.keys(all).filter((k) => !c.known.includes(k));
  const warnings = unknown.map((key): Problem => {
    const like = closestKey(key, c.known);
    return {
      path: ['autoinstall', key],
      at: 'key',
      text: `unknown key "${key}" at autoinstall: subiquity (autoinstall version 1) ignores it`,
      hint: like === undefined ? `subiquity ${schemaRelease(release)} knows: ${c.known.join(', ')}` : `did you mean "${like}"?`,
    };
  });
  const known = Object.fromEntries(Object.entries(all).filter(([k]) => c.known.includes(k)));
  const problems = c.sections(known) ? [] : specific(c.sections.errors ?? []).map((e) => problemOf(e, known));
  return { problems, warnings };
}
