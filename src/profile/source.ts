/**
 * The profile's YAML text and how to point into it: every profile error carries
 * `file:line:col` of the offending node so the user can jump straight to it.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import { IsoBuildError, usageError } from '../errors.js';

export const PROFILE_DOCS = 'docs/profile.md';

export interface ProfileSource {
  /** The file name as shown in messages (relative to the cwd when below it). */
  display: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
}

/** A file as messages name it: relative to the cwd when below it (shorter, and what the user typed), else absolute. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** One thing wrong with a profile, located by its key path in the YAML. */
export interface Problem {
  path: readonly PropertyKey[];
  /** Point at the key instead of the value (unknown keys, bad map keys). */
  at?: 'key' | 'value';
  /** The message after `file:line:col: `. */
  text: string;
  hint?: string;
}

/** Profiles and templates are hand-written: anything larger is a mistake or an attack, refused before it is read. */
export const MAX_TEXT_BYTES = 1024 * 1024;
/**
 * Alias uses allowed when a YAML document becomes data (the `yaml` package's `maxAliasCount`, its default): a few
 * anchors are normal, an alias bomb ("billion laughs") expands exponentially and is refused.
 */
export const MAX_YAML_ALIASES = 100;

/** Reads a profile or template file of at most MAX_TEXT_BYTES; `what` names it in messages ("profile"). */
export function readBoundedText(file: string, what: string): string {
  const display = displayPath(file);
  try {
    const size = statSync(file).size;
    if (size > MAX_TEXT_BYTES) {
      throw usageError(`${what} ${display} is too large: ${size} bytes (at most ${MAX_TEXT_BYTES})`, `a ${what} is a small hand-written file; check that the path names the right file`);
    }
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof IsoBuildError) throw err;
    const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : String(err);
    if (code === 'ENOENT') throw usageError(`${what} not found: ${display}`);
    if (code === 'EISDIR') throw usageError(`${what} is a directory, not a file: ${display}`, `pass the path of the ${what} file`);
    throw usageError(`cannot read ${what} ${display}: ${code}`, 'check the file permissions');
  }
}

/** The document as plain data, with aliases limited (MAX_YAML_ALIASES): an alias bomb is a usage error, not a hang. */
export function yamlData(source: ProfileSource): unknown {
  try {
    return source.doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    // yaml throws a ReferenceError "Excessive alias count indicates a resource exhaustion attack" (Alias.resolve).
    if (err instanceof ReferenceError) {
      throw usageError(`${source.display}: YAML aliases expand too far (more than ${MAX_YAML_ALIASES} alias uses)`, 'write the values out, or use fewer *alias references');
    }
    throw err;
  }
}

/** Parses YAML, failing on the first syntax error (the rest are usually consequences). */
export function parseProfileYaml(display: string, text: string): ProfileSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const { line, col } = linePos(lineCounter, first.pos[0]);
    const summary = first.message.split('\n')[0] ?? first.message;
    throw usageError(`${display}:${line}:${col}: invalid YAML: ${summary}`, `fix the YAML syntax; see ${PROFILE_DOCS} for an example profile`);
  }
  return { display, doc, lineCounter };
}

function linePos(lineCounter: LineCounter, offset: number): { line: number; col: number } {
  const pos = lineCounter.linePos(offset);
  // LineCounter reports line 0 before the first newline it has seen.
  return pos.line === 0 ? { line: 1, col: offset + 1 } : pos;
}

/** `overlay[1].target`; keys that are not identifiers are quoted (`chroot.env["A-B"]`). */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`;
      const key = String(segment);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return `[${JSON.stringify(key)}]`;
      return i === 0 ? key : `.${key}`;
    })
    .join('');
}

function resolveAlias(source: ProfileSource, node: unknown): unknown {
  return isAlias(node) ? node.resolve(source.doc) : node;
}

/** The deepest node along `path` (a missing key points at its parent mapping). */
function nodeAt(source: ProfileSource, path: readonly PropertyKey[], at: 'key' | 'value'): Node | null {
  let node: unknown = source.doc.contents;
  for (const [i, segment] of path.entries()) {
    node = resolveAlias(source, node);
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (pair !== undefined && at === 'key' && i === path.length - 1) return pair.key as Node;
      // A key without a value (`rootfs:`) has no value node: point at the key.
      next = pair === undefined ? undefined : (pair.value ?? pair.key);
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment];
    }
    if (next === undefined || next === null) break;
    node = next;
  }
  return (node as Node | null) ?? null;
}

export function locate(source: ProfileSource, problem: Problem): { line: number; col: number; offset: number } {
  const offset = nodeAt(source, problem.path, problem.at ?? 'value')?.range?.[0] ?? 0;
  return { ...linePos(source.lineCounter, offset), offset };
}

/** One error for all problems: the first (in file order) in the message, the rest counted in the hint. */
export function problemsError(source: ProfileSource, problems: readonly Problem[]): IsoBuildError {
  const located = problems
    .map((problem) => ({ problem, pos: locate(source, problem) }))
    .sort((a, b) => a.pos.offset - b.pos.offset);
  const first = located[0];
  if (first === undefined) throw new Error('problemsError called without problems');
  const rest = located.length - 1;
  const context = [rest > 0 ? `${rest} more problem${rest === 1 ? '' : 's'} in this profile` : undefined, `see ${PROFILE_DOCS}`]
    .filter((part) => part !== undefined)
    .join('; ');
  const hint = first.problem.hint === undefined ? context : `${first.problem.hint} (${context})`;
  return usageError(`${source.display}:${first.pos.line}:${first.pos.col}: ${first.problem.text}`, hint);
}
