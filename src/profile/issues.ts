/**
 * Turns zod issues into profile Problems with messages a user can act on:
 * `overlay[1].target: expected an absolute path ..., got "../etc"`.
 */
import type * as z from 'zod';
import { objectKeysAt } from './schema-walk.js';
import { formatKeyPath, type Problem } from './source.js';

type Issue = z.core.$ZodIssue;

/** zod's type names as a message says them. */
export const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

export function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

/** A value as "got ..." names it: short strings quoted, containers by kind. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

function bound(issue: { origin: string; inclusive?: boolean }, n: number | bigint, direction: 'min' | 'max'): string {
  if (issue.origin === 'string') {
    if (direction === 'min' && Number(n) === 1) return 'expected a non-empty string';
    return `expected ${direction === 'min' ? 'at least' : 'at most'} ${n} characters`;
  }
  if (issue.origin === 'array') return `expected ${direction === 'min' ? 'at least' : 'at most'} ${n} items`;
  const op = direction === 'min' ? (issue.inclusive === false ? '>' : '>=') : issue.inclusive === false ? '<' : '<=';
  return `expected a number ${op} ${n}`;
}

/** What the schema wanted, as "expected ...". Custom messages in schema.ts already have that form. */
function expectation(issue: Issue): string {
  if (issue.message.startsWith('expected')) return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'invalid_value':
      return `expected one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return bound(issue, issue.minimum, 'min');
    case 'too_big':
      return bound(issue, issue.maximum, 'max');
    case 'invalid_format':
      return `expected a valid ${issue.format}`;
    default:
      return issue.message;
  }
}

/** Levenshtein distance, for "did you mean" on misspelt keys. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The known key closest to `key`, when the distance makes a typo obvious. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(key.length / 3));
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

function unknownKeyProblems(issue: z.core.$ZodIssueUnrecognizedKeys, root: z.core.$ZodType): Problem[] {
  const known = objectKeysAt(root, issue.path) ?? [];
  const where = issue.path.length === 0 ? 'the top level' : formatKeyPath(issue.path);
  return issue.keys.map((key) => {
    const suggestion = closestKey(key, known);
    return {
      path: [...issue.path, key],
      at: 'key',
      text: `unknown key "${key}" at ${where} (expected one of: ${known.join(', ')})`,
      hint: suggestion === undefined ? undefined : `did you mean "${suggestion}"?`,
    };
  });
}

function invalidKeyProblem(issue: z.core.$ZodIssueInvalidKey): Problem {
  const inner = issue.issues[0];
  const key = issue.path[issue.path.length - 1];
  const what = inner === undefined ? 'expected a valid key' : expectation(inner);
  return {
    path: issue.path,
    at: 'key',
    text: `${formatKeyPath(issue.path.slice(0, -1))}: invalid key ${JSON.stringify(String(key))}: ${what}`,
  };
}

/** "got a mapping" adds nothing to an object-level rule such as "path or url"; see also OMIT_VALUE. */
function omitsValue(issue: Issue, value: unknown): boolean {
  if (issue.code !== 'custom') return false;
  return (typeof value === 'object' && value !== null) || issue.params?.['omitValue'] === true;
}

function valueProblem(issue: Issue, data: unknown): Problem {
  const value = valueAt(data, issue.path);
  const prefix = issue.path.length === 0 ? '' : `${formatKeyPath(issue.path)}: `;
  if (value === undefined) {
    return { path: issue.path, text: `${prefix}missing required key (${expectation(issue)})` };
  }
  const got = omitsValue(issue, value) ? '' : `, got ${describeValue(value)}`;
  const quoteHint =
    issue.code === 'invalid_type' && issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')
      ? `YAML read this as a ${typeof value}; quote it to make it a string ("${String(value)}")`
      : undefined;
  return { path: issue.path, text: `${prefix}${expectation(issue)}${got}`, hint: quoteHint };
}

export function problemsFromIssues(issues: readonly Issue[], data: unknown, root: z.core.$ZodType): Problem[] {
  return issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') return unknownKeyProblems(issue, root);
    if (issue.code === 'invalid_key') return [invalidKeyProblem(issue)];
    return [valueProblem(issue, data)];
  });
}
