/** RELEASE-NOTES.md: rendered with handlebars from release/notes.md.hbs; package changes against the previous release. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Handlebars from 'handlebars';
import { IsoBuildError } from '../errors.js';
import { packageRoot } from '../package-root.js';
import { readManifest, type BuildManifest, type Package } from './manifest.js';

export const NOTES_NAME = 'RELEASE-NOTES.md';
/** The repository's release/ directory (the templates ship with iso-build). */
export const RELEASE_TEMPLATES_DIR = join(packageRoot(), 'release');

export interface PackageChanges {
  added: Package[];
  removed: Package[];
  upgraded: { name: string; from: string; to: string }[];
}

export function diffPackages(before: Package[], after: Package[]): PackageChanges {
  const old = new Map(before.map((p) => [p.name, p.version]));
  const now = new Map(after.map((p) => [p.name, p.version]));
  const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return {
    added: after.filter((p) => !old.has(p.name)).sort(byName),
    removed: before.filter((p) => !now.has(p.name)).sort(byName),
    upgraded: after
      .filter((p) => old.has(p.name) && old.get(p.name) !== p.version)
      .map((p) => ({ name: p.name, from: old.get(p.name)!, to: p.version }))
      .sort(byName),
  };
}

/** Orders release versions: v1.2.3 (a pre-release sorts before its release) and yyyymmdd dates. */
export function compareVersions(a: string, b: string): number {
  const semver = (v: string): [number[], string[] | undefined] | undefined => {
    const m = /^v(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+.*)?$/.exec(v);
    return m ? [[Number(m[1]), Number(m[2]), Number(m[3])], m[4]?.split('.')] : undefined;
  };
  const sa = semver(a);
  const sb = semver(b);
  if (sa && sb) {
    for (let i = 0; i < 3; i++) if (sa[0][i] !== sb[0][i]) return sa[0][i]! - sb[0][i]!;
    const [pa, pb] = [sa[1], sb[1]];
    if (!pa || !pb) return pa ? -1 : pb ? 1 : 0;
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      const [x, y] = [pa[i], pb[i]];
      if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
      if (x === y) continue;
      const [nx, ny] = [/^\d+$/.test(x), /^\d+$/.test(y)];
      if (nx && ny) return Number(x) - Number(y);
      if (nx !== ny) return nx ? -1 : 1;
      return x < y ? -1 : 1;
    }
    return 0;
  }
  if (/^\d{8}$/.test(a) && /^\d{8}$/.test(b)) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The newest sibling release directory (with a build-manifest.json) older than `version`. */
export function previousRelease(outputDir: string, version: string): { dir: string; manifest: BuildManifest } | undefined {
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

export interface NotesInput {
  manifest: BuildManifest;
  previous?: { dir: string; manifest: BuildManifest };
  signed: { key: string; fingerprint: string } | undefined;
  /** Directory with notes.md.hbs and CHECKLIST.md (default: the repository's release/). */
  templatesDir?: string;
}

export function renderNotes(input: NotesInput): string {
  const dir = input.templatesDir ?? RELEASE_TEMPLATES_DIR;
  const templateFile = join(dir, 'notes.md.hbs');
  if (!existsSync(templateFile)) throw new IsoBuildError(`release notes template ${templateFile} is missing`);
  const checklistFile = join(dir, 'CHECKLIST.md');
  const { manifest, previous } = input;
  const changes = previous ? diffPackages(previous.manifest.packages, manifest.packages) : undefined;
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
    changeCount: changes ? changes.added.length + changes.removed.length + changes.upgraded.length : 0,
    signed: input.signed,
    checklist: existsSync(checklistFile) ? readFileSync(checklistFile, 'utf8').trim() : undefined,
  };
  try {
    return template(data).replace(/\n{3,}/g, '\n\n');
  } catch (err) {
    throw new IsoBuildError(`${templateFile}: ${(err as Error).message}`);
  }
}
