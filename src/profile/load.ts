/**
 * Loading a profile: read the YAML (size and alias limits), merge `extends:`, interpolate, validate it against the
 * schema, make every path field (the schema's profilePath marks) absolute against the directory of the profile that
 * wrote it and check that the files it names exist. Every failure is
 * a usage error (exit 2) that points at `file:line:col` of the offending YAML node.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../errors.js';
import { SHA256_PATTERN, isPlainFileName, urlBasename } from './checks.js';
import { problemsFromIssues } from './issues.js';
import { DEFAULT_PROFILE, ProfileDocumentSchema, ProfileSchema, type Profile, type ProfileBase } from './schema.js';
import { TemplateError, renderTemplate } from './template.js';
import { PROFILE_DOCS, displayPath, readBoundedText, yamlData, formatKeyPath, parseProfileYaml, problemsError, type Problem } from './source.js';
import { absolutizePaths, checkCycle, composedProblemsError, interpolate, isUrl, mergeLayers, pathFieldsOf, pathLayer, replaceTaggedLists, type Layer } from './compose.js';
import { forEachAt } from './schema-marks.js';
import { findSha256 } from '../sha256sums.js';

export { DEFAULT_PROFILE } from './schema.js';

/** From the CLI's --base / --base-sha256. */
export interface ProfileOverrides {
  /** Local base ISO, relative to process.cwd(); replaces base.path / base.url. Requires baseSha256. */
  basePath?: string;
  /** Replaces base.sha256 / base.sha256sums. */
  baseSha256?: string;
}

type Parsed = ReturnType<typeof ProfileSchema.parse>;

function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function readProfileText(file: string, display: string): string {
  if (!existsSync(file)) throw usageError(`profile not found: ${display}`, `pass --profile <file> (default: ${DEFAULT_PROFILE})`);
  return readBoundedText(file, 'profile');
}

function checkOverrides(overrides: ProfileOverrides): void {
  const { basePath, baseSha256 } = overrides;
  if (basePath === '') throw usageError('--base: expected the path of an ISO, got ""');
  if (basePath !== undefined && baseSha256 === undefined) {
    throw usageError('--base requires --base-sha256', 'pass the ISO\'s hash too: --base-sha256 "$(sha256sum <iso> | cut -d" " -f1)"');
  }
  if (baseSha256 !== undefined && !SHA256_PATTERN.test(baseSha256)) {
    throw usageError(`--base-sha256: expected 64 hexadecimal characters, got ${JSON.stringify(baseSha256)}`, 'print the hash with: sha256sum <iso>');
  }
}

type FileKind = 'file' | 'directory' | 'other' | 'missing';

async function fileKind(file: string): Promise<FileKind> {
  try {
    const info = await stat(file);
    return info.isFile() ? 'file' : info.isDirectory() ? 'directory' : 'other';
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return 'missing';
    throw usageError(`cannot access ${file}: ${errnoCode(err) ?? String(err)}`, 'check the permissions of the path');
  }
}

/** A problem at `key` unless `file` exists and is a `want`. */
async function expectKind(file: string, want: 'file' | 'directory', key: readonly PropertyKey[], hint: string): Promise<Problem[]> {
  const kind = await fileKind(file);
  if (kind === want) return [];
  const what = kind === 'missing' ? `${want} not found` : `expected a ${want === 'file' ? 'regular file' : 'directory'}`;
  return [{ path: key, text: `${formatKeyPath(key)}: ${what}: ${file}`, hint }];
}

/** Builds an object without the keys whose value is undefined (optional fields stay absent). */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

interface Resolved<T> {
  value: T;
  problems: Problem[];
}

/** The hash SHA256SUMS lists for the ISO; it must agree with base.sha256 when both are given. */
async function hashFromSums(sha256: string | undefined, sumsFile: string, isoName: string): Promise<Resolved<string | undefined>> {
  const key = ['base', 'sha256sums'];
  const missing = await expectKind(sumsFile, 'file', key, 'download the SHA256SUMS file that belongs to the base ISO');
  if (missing.length > 0) return { value: undefined, problems: missing };
  const listed = findSha256(await readFile(sumsFile, 'utf8'), isoName);
  if (listed === undefined) {
    const text = `base.sha256sums: ${sumsFile} does not list ${JSON.stringify(isoName)}`;
    return { value: undefined, problems: [{ path: key, text, hint: `expected a line "<sha256> *${isoName}" as written by sha256sum` }] };
  }
  if (sha256 !== undefined && sha256 !== listed) {
    const text = `base.sha256: does not match the hash ${sumsFile} lists for ${JSON.stringify(isoName)} (${listed})`;
    return { value: listed, problems: [{ path: ['base', 'sha256'], text, hint: 'remove one of base.sha256 / base.sha256sums or fix it' }] };
  }
  return { value: listed, problems: [] };
}

function isoNameOf(base: ProfileBase): string {
  return base.path !== undefined ? path.basename(base.path) : urlBasename(base.url ?? '');
}

type BaseLocation = Pick<ProfileBase, 'path' | 'url'>;
type BaseHash = Pick<ProfileBase, 'sha256' | 'sha256sums'>;

async function resolveLocation(base: ProfileBase): Promise<Resolved<BaseLocation>> {
  if (base.path === undefined) return { value: { url: base.url }, problems: [] };
  const hint = 'download the base ISO there, use base.url, or pass --base <iso> --base-sha256 <sha256>';
  return { value: { path: base.path }, problems: await expectKind(base.path, 'file', ['base', 'path'], hint) };
}

/** Fills base.sha256 (from --base-sha256 or SHA256SUMS), so the rest of the code only reads base.sha256. */
async function resolveHash(base: ProfileBase, override: string | undefined): Promise<Resolved<BaseHash>> {
  if (override !== undefined) return { value: { sha256: override.toLowerCase() }, problems: [] };
  if (base.sha256sums === undefined) return { value: { sha256: base.sha256 }, problems: [] };
  const sha256sums = base.sha256sums;
  const isoName = isoNameOf(base);
  if (isoName === '') {
    const text = `base.url: has no file name to look up in base.sha256sums: ${base.url ?? ''}`;
    return { value: { sha256sums }, problems: [{ path: ['base', 'url'], text }] };
  }
  const hash = await hashFromSums(base.sha256, sha256sums, isoName);
  return { value: { sha256: hash.value, sha256sums }, problems: hash.problems };
}

async function resolveBase(base: ProfileBase, overrides: ProfileOverrides): Promise<Resolved<ProfileBase>> {
  const kept = { layout: base.layout, rootfsLayer: base.rootfsLayer };
  if (overrides.basePath !== undefined && overrides.baseSha256 !== undefined) {
    // --base replaces the profile's ISO, so its path / url / sums are not checked at all.
    const value = { path: path.resolve(overrides.basePath), sha256: overrides.baseSha256.toLowerCase(), ...kept };
    return { value: withoutUndefined(value), problems: [] };
  }
  const location = await resolveLocation(base);
  const hash = await resolveHash(base, overrides.baseSha256);
  const value = withoutUndefined({ ...location.value, ...hash.value, ...kept });
  return { value, problems: [...location.problems, ...hash.problems] };
}

/**
 * Every path field outside `base` (resolveBase checks those, --base may replace them) must name an existing file or
 * directory, as its schema mark says: checked on load, so `profile validate` finds what a build would miss late.
 */
async function checkPathFields(profile: Parsed, dirOf: (at: readonly PropertyKey[]) => string): Promise<Problem[]> {
  const checks: Promise<Problem[]>[] = [];
  for (const { field, kind } of pathFieldsOf()) {
    if (field[0] === 'base') continue;
    forEachAt(profile, field, (value, _parent, _key, at) => {
      if (typeof value !== 'string' || isUrl(value)) return;
      checks.push(expectKind(value, kind, at, `relative to the directory of the profile that sets it (${dirOf(at)})`));
    });
  }
  return (await Promise.all(checks)).flat();
}

/** The profile file and the profiles it extends, base first, as written (paths are resolved after the merge: pathLayer). */
async function readLayers(file: string, chain: string[] = []): Promise<Layer[]> {
  const absolute = path.resolve(file);
  const display = displayPath(absolute);
  const source = parseProfileYaml(display, readProfileText(absolute, display));
  const data = yamlData(source);
  const layer: Layer = { file: absolute, dir: path.dirname(absolute), source, data, replaceLists: replaceTaggedLists(source) };
  const parent = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>)['extends'] : undefined;
  if (parent === undefined) return [layer];
  if (typeof parent !== 'string' || parent === '') {
    throw problemsError(source, [{ path: ['extends'], text: 'extends: expected the path of a base profile' }]);
  }
  const parentFile = path.resolve(layer.dir, parent);
  checkCycle([...chain, absolute], parentFile, display);
  const kind = await fileKind(parentFile);
  if (kind !== 'file') {
    throw problemsError(source, [{ path: ['extends'], text: `extends: ${kind === 'missing' ? 'file not found' : 'expected a regular file'}: ${parentFile}`, hint: "relative to this profile's directory" }]);
  }
  return [...(await readLayers(parentFile, [...chain, absolute])), layer];
}

export async function loadProfile(file: string, overrides: ProfileOverrides = {}): Promise<Profile> {
  checkOverrides(overrides);
  const layers = await readLayers(file);
  const top = layers[layers.length - 1]!;
  const merged = mergeLayers(layers);
  const interpolated = interpolate(merged.data, process.env);
  if (interpolated.problems.length > 0) throw composedProblemsError(layers, merged.origins, interpolated.problems);
  const data = interpolated.data;
  const parsed = ProfileSchema.safeParse(data);
  if (!parsed.success) throw composedProblemsError(layers, merged.origins, problemsFromIssues(parsed.error.issues, data, ProfileDocumentSchema));

  const dirOf = (at: readonly PropertyKey[]): string => layers[pathLayer(layers, merged.origins, at)]!.dir;
  absolutizePaths(parsed.data, dirOf);
  const base = await resolveBase(parsed.data.base, overrides);
  const problems = [...base.problems, ...(await checkPathFields(parsed.data, dirOf))];
  if (problems.length > 0) throw composedProblemsError(layers, merged.origins, problems);
  return { file: top.file, dir: top.dir, ...parsed.data, base: base.value };
}

/** The ISO's file name for `version`; strict: unknown variables and '/' in the result are errors. */
export function renderOutputName(profile: Profile, version: string): string {
  const template = profile.output.name;
  const where = `${displayPath(profile.file)}: output.name`;
  let rendered: string;
  try {
    rendered = renderTemplate(template, { name: profile.name, product: profile.product, version });
  } catch (err) {
    if (err instanceof TemplateError) throw usageError(`${where}: ${err.message}`, `see ${PROFILE_DOCS}`);
    throw err;
  }
  if (!isPlainFileName(rendered)) {
    throw usageError(
      `${where}: ${JSON.stringify(template)} with version ${JSON.stringify(version)} renders to ${JSON.stringify(rendered)}, not a plain file name`,
      'use a version without "/"',
    );
  }
  return rendered;
}
