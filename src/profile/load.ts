/**
 * Loading a profile: read the YAML, validate it against the schema, resolve relative paths
 * against the profile's directory and check that the files it names exist. Every failure is
 * a usage error (exit 2) that points at `file:line:col` of the offending YAML node.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../errors.js';
import { SHA256_PATTERN, isPlainFileName, urlBasename } from './checks.js';
import { problemsFromIssues } from './issues.js';
import { DEFAULT_PROFILE, ProfileDocumentSchema, ProfileSchema, type OverlayMapping, type Profile, type ProfileBase } from './schema.js';
import { TemplateError, renderTemplate } from './template.js';
import { PROFILE_DOCS, displayPath, formatKeyPath, parseProfileYaml, problemsError, type Problem } from './source.js';
import { absolutizePaths, checkCycle, composedProblemsError, interpolate, mergeLayers, replaceTaggedLists, type Layer } from './compose.js';
import { HOOK_POINTS } from './schema-autoinstall.js';
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

async function readProfileText(file: string, display: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') throw usageError(`profile not found: ${display}`, `pass --profile <file> (default: ${DEFAULT_PROFILE})`);
    if (code === 'EISDIR') throw usageError(`profile is a directory, not a file: ${display}`, 'pass the path of the profile .yaml file');
    throw usageError(`cannot read profile ${display}: ${code ?? String(err)}`, 'check the file permissions');
  }
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

async function resolveLocation(base: ProfileBase, dir: string): Promise<Resolved<BaseLocation>> {
  if (base.path === undefined) return { value: { url: base.url }, problems: [] };
  const iso = path.resolve(dir, base.path);
  const hint = 'download the base ISO there, use base.url, or pass --base <iso> --base-sha256 <sha256>';
  return { value: { path: iso }, problems: await expectKind(iso, 'file', ['base', 'path'], hint) };
}

/** Fills base.sha256 (from --base-sha256 or SHA256SUMS), so the rest of the code only reads base.sha256. */
async function resolveHash(base: ProfileBase, dir: string, override: string | undefined): Promise<Resolved<BaseHash>> {
  if (override !== undefined) return { value: { sha256: override.toLowerCase() }, problems: [] };
  if (base.sha256sums === undefined) return { value: { sha256: base.sha256 }, problems: [] };
  const sha256sums = path.resolve(dir, base.sha256sums);
  const isoName = isoNameOf(base);
  if (isoName === '') {
    const text = `base.url: has no file name to look up in base.sha256sums: ${base.url ?? ''}`;
    return { value: { sha256sums }, problems: [{ path: ['base', 'url'], text }] };
  }
  const hash = await hashFromSums(base.sha256, sha256sums, isoName);
  return { value: { sha256: hash.value, sha256sums }, problems: hash.problems };
}

async function resolveBase(base: ProfileBase, dir: string, overrides: ProfileOverrides): Promise<Resolved<ProfileBase>> {
  const kept = { layout: base.layout, rootfsLayer: base.rootfsLayer };
  if (overrides.basePath !== undefined && overrides.baseSha256 !== undefined) {
    // --base replaces the profile's ISO, so its path / url / sums are not checked at all.
    const value = { path: path.resolve(overrides.basePath), sha256: overrides.baseSha256.toLowerCase(), ...kept };
    return { value: withoutUndefined(value), problems: [] };
  }
  const location = await resolveLocation(base, dir);
  const hash = await resolveHash(base, dir, overrides.baseSha256);
  const value = withoutUndefined({ ...location.value, ...hash.value, ...kept });
  return { value, problems: [...location.problems, ...hash.problems] };
}

async function resolveOverlay(overlay: readonly OverlayMapping[], dir: string): Promise<Resolved<OverlayMapping[]>> {
  const hint = `overlay sources are relative to the profile's directory (${dir})`;
  const resolved = overlay.map((mapping) => ({ ...mapping, source: path.resolve(dir, mapping.source) }));
  const problems = await Promise.all(
    resolved.map((mapping, i) => expectKind(mapping.source, 'directory', ['overlay', i, 'source'], hint)),
  );
  return { value: resolved, problems: problems.flat() };
}

/** The profile file and the profiles it extends, base first; paths in the bases made absolute against their own directory. */
async function readLayers(file: string, chain: string[] = []): Promise<Layer[]> {
  const absolute = path.resolve(file);
  const display = displayPath(absolute);
  const source = parseProfileYaml(display, await readProfileText(absolute, display));
  const data: unknown = source.doc.toJS();
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
  const bases = await readLayers(parentFile, [...chain, absolute]);
  for (const base of bases) if (base.dir !== layer.dir && chain.length === 0) absolutizePaths(base.data, base.dir);
  return [...bases, layer];
}

type ResolvedPaths = Pick<Parsed, 'autoinstall' | 'hooks'>;

/** Template and hook paths, resolved against the profile's directory and checked. */
async function resolveExtras(parsed: Parsed, dir: string): Promise<Resolved<ResolvedPaths>> {
  const problems: Problem[] = [];
  let autoinstall = parsed.autoinstall;
  if (autoinstall !== undefined) {
    const userData = path.resolve(dir, autoinstall.userData);
    const metaData = autoinstall.metaData === undefined ? undefined : path.resolve(dir, autoinstall.metaData);
    const hint = `templates are relative to the profile's directory (${dir})`;
    problems.push(...(await expectKind(userData, 'file', ['autoinstall', 'userData'], hint)));
    if (metaData !== undefined) problems.push(...(await expectKind(metaData, 'file', ['autoinstall', 'metaData'], hint)));
    autoinstall = withoutUndefined({ ...autoinstall, userData, metaData });
  }
  const hooks = { ...parsed.hooks };
  for (const point of HOOK_POINTS) {
    hooks[point] = parsed.hooks[point].map((script) => path.resolve(dir, script));
    for (const [i, script] of hooks[point].entries()) {
      problems.push(...(await expectKind(script, 'file', ['hooks', point, i], `hook scripts are relative to the profile's directory (${dir})`)));
    }
  }
  return { value: withoutUndefined({ autoinstall, hooks }), problems };
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

  const dir = top.dir;
  const base = await resolveBase(parsed.data.base, dir, overrides);
  const overlay = await resolveOverlay(parsed.data.overlay, dir);
  const extras = await resolveExtras(parsed.data, dir);
  const problems = [...base.problems, ...overlay.problems, ...extras.problems];
  if (problems.length > 0) throw composedProblemsError(layers, merged.origins, problems);
  const profile: Parsed = { ...parsed.data, base: base.value, overlay: overlay.value, ...extras.value };
  return { file: top.file, dir, ...profile };
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
