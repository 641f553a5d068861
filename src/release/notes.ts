/** RELEASE-NOTES.md: rendered with handlebars from release/notes.md.hbs; package changes against the previous release. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Handlebars from 'handlebars';
import semver from 'semver';
import { IsoBuildError } from '../errors.js';
import { packageRoot } from '../package-root.js';
import { compareDebianVersions } from '../tools/dpkg-versions.js';
import { readManifest, type BuildManifest, type Package } from './manifest.js';

/** The repository's release/ directory (the templates ship with iso-build). */
const RELEASE_TEMPLATES_DIR = join(packageRoot(), 'release');

export interface VersionChange {
  name: string;
  from: string;
  to: string;
}

export interface PackageChanges {
  added: Package[];
  removed: Package[];
  /** Newer in dpkg's version order (epochs, `~`, revisions: 1.0~rc1 < 1.0 < 1.0-1 < 1:0.9), so not by text. */
  upgraded: VersionChange[];
  downgraded: VersionChange[];
}

/** Package changes between two releases, by name; a version dpkg holds equal (1.0 and 0:1.0) is no change. */
export async function diffPackages(before: Package[], after: Package[]): Promise<PackageChanges> {
  const old = new Map(before.map((p) => [p.name, p.version]));
  const now = new Map(after.map((p) => [p.name, p.version]));
  const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const changed = after
    .filter((p) => old.has(p.name) && old.get(p.name) !== p.version)
    .map((p) => ({ name: p.name, from: old.get(p.name)!, to: p.version }))
    .sort(byName);
  const order = await compareDebianVersions(changed.map((c) => [c.from, c.to] as const));
  return {
    added: after.filter((p) => !old.has(p.name)).sort(byName),
    removed: before.filter((p) => !now.has(p.name)).sort(byName),
    upgraded: changed.filter((_, i) => order[i]! < 0),
    downgraded: changed.filter((_, i) => order[i]! > 0),
  };
}

/** Orders release versions: v1.2.3 as SemVer (a pre-release sorts before its release) and yyyymmdd dates. */
export function compareVersions(a: string, b: string): number {
  const release = (v: string): semver.SemVer | null => (v.startsWith('v') ? semver.parse(v.slice(1)) : null);
  const [sa, sb] = [release(a), release(b)];
  if (sa && sb) return semver.compare(sa, sb);
  if (/^\d{8}$/.test(a) && /^\d{8}$/.test(b)) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The newest sibling release directory (with a build-manifest.json) older than `version`. */
function previousRelease(outputDir: string, version: string): { dir: string; manifest: BuildManifest } | undefined {
  const parent = dirname(outputDir);
  let best: { dir: string; manifest: BuildManifest } | undefined;
  let entries: string[] = [];
  try {
    entries = readdirSync(parent);
  } catch {
    return undefined;
  }
  for (const name of entries) {
    const dir = join(parent, name);
    if (dir === outputDir) continue;
    const manifest = readManifest(dir);
    if (!manifest || compareVersions(manifest.version, version) >= 0) continue;
    if (!best || compareVersions(manifest.version, best.manifest.version) > 0) best = { dir, manifest };
  }
  return best;
}

/** The newest older release and the package changes since it, worked out once for the notes and the report. */
export interface PreviousRelease {
  dir: string;
  manifest: BuildManifest;
  changes: PackageChanges;
}

/** The previous release beside `releaseDir` (previousRelease) and the package changes from it to `manifest`. */
export async function comparedToPrevious(releaseDir: string, manifest: BuildManifest): Promise<PreviousRelease | undefined> {
  const previous = previousRelease(releaseDir, manifest.version);
  return previous && { ...previous, changes: await diffPackages(previous.manifest.packages, manifest.packages) };
}

export interface NotesInput {
  manifest: BuildManifest;
  previous?: PreviousRelease;
  signed: { key: string; fingerprint: string } | undefined;
  /** Directory with notes.md.hbs and CHECKLIST.md (default: the repository's release/). */
  templatesDir?: string;
}

export async function renderNotes(input: NotesInput): Promise<string> {
  const dir = input.templatesDir ?? RELEASE_TEMPLATES_DIR;
  const templateFile = join(dir, 'notes.md.hbs');
  if (!existsSync(templateFile)) throw new IsoBuildError(`release notes template ${templateFile} is missing`);
  const checklistFile = join(dir, 'CHECKLIST.md');
  const { manifest, previous } = input;
  const changes = previous?.changes;
  const hb = Handlebars.create();
  hb.registerHelper('short', (s: unknown) => String(s).slice(0, 16));
  let template: Handlebars.TemplateDelegate;
  try {
    template = hb.compile(readFileSync(templateFile, 'utf8'), { strict: false, noEscape: true });
  } catch (err) {
    throw new IsoBuildError(`${templateFile}: ${(err as Error).message}`);
  }
  const data = {
    ...manifest,
    date: new Date(manifest.sourceDateEpoch * 1000).toISOString().slice(0, 10),
    packageCount: manifest.packages.length,
    previous: previous ? { version: previous.manifest.version, packageCount: previous.manifest.packages.length } : undefined,
    changes,
    changeCount: changes ? changes.added.length + changes.removed.length + changes.upgraded.length + changes.downgraded.length : 0,
    signed: input.signed,
    checklist: existsSync(checklistFile) ? readFileSync(checklistFile, 'utf8').trim() : undefined,
  };
  try {
    return template(data).replace(/\n{3,}/g, '\n\n');
  } catch (err) {
    throw new IsoBuildError(`${templateFile}: ${(err as Error).message}`);
  }
}
