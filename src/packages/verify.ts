/**
 * `iso-build packages verify DIR` and the build's verification stage: every payload file against manifest.json, every
 * .deb (complete ar archive, parsable control data, listed in Packages with its size and sha256), every image archive
 * (layer digests, reference) and every chart (Chart.yaml against index.yaml). Each problem names its file.
 */
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debControl } from '../tools/apt.js';
import { dearmor, verifiedClearText, verifySignature } from '../tools/gpg.js';
import { checkChart, parseChartIndex } from './charts.js';
import { checkImage, parseImagesTxt } from './images.js';
import { MANIFEST_NAME, describeFiles, payloadFiles, type ManifestFile, type PayloadManifest } from './manifest.js';
import { PUBLIC_KEY_NAME, controlField } from './repo.js';
import type { BuildLog } from '../build-log.js';

export interface Problem {
  file: string;
  problem: string;
}

/** Walks the ar members of a .deb; returns why it is not a complete archive, or undefined. */
export function debArchiveProblem(file: string): string | undefined {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const magic = Buffer.alloc(8);
    if (readSync(fd, magic, 0, 8, 0) !== 8 || magic.toString('latin1') !== '!<arch>\n') return 'not an ar archive (no !<arch> magic)';
    let pos = 8;
    const members: string[] = [];
    const header = Buffer.alloc(60);
    while (pos < size) {
      if (readSync(fd, header, 0, 60, pos) !== 60) return `truncated: member header at byte ${pos} is cut`;
      if (header.toString('latin1', 58, 60) !== '`\n') return `corrupt: bad member header at byte ${pos}`;
      const name = header.toString('latin1', 0, 16).trim().replace(/\/$/, '');
      const length = Number(header.toString('latin1', 48, 58).trim());
      members.push(name);
      const end = pos + 60 + length;
      if (end > size) return `truncated: member ${name} needs ${end} bytes, the file has ${size}`;
      pos = end + (length % 2);
    }
    if (members[0] !== 'debian-binary' || !members.some((m) => m.startsWith('control.tar')) || !members.some((m) => m.startsWith('data.tar'))) {
      return `not a Debian package (members: ${members.join(', ')})`;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function parseStanzas(text: string): Map<string, string> {
  const byFile = new Map<string, string>();
  for (const stanza of text.split(/\n\s*\n/)) {
    const file = controlField(stanza, 'Filename');
    if (file) byFile.set(file.replace(/^\.\//, ''), stanza);
  }
  return byFile;
}

/** Size and sha256 of every payload file, hashed once for all the checks below (the .debs are the bulk of the bytes). */
type Sums = ReadonlyMap<string, ManifestFile>;

function verifyManifest(dir: string, actual: Sums, problems: Problem[]): void {
  const file = join(dir, MANIFEST_NAME);
  if (!existsSync(file)) {
    problems.push({ file: MANIFEST_NAME, problem: 'missing' });
    return;
  }
  let manifest: PayloadManifest;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as PayloadManifest;
    if (!Array.isArray(manifest.files)) throw new Error('no files list');
  } catch (err) {
    problems.push({ file: MANIFEST_NAME, problem: `does not parse: ${(err as Error).message}` });
    return;
  }
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  for (const [path, entry] of listed) {
    const found = actual.get(path);
    if (!found) problems.push({ file: path, problem: 'listed in manifest.json but missing' });
    else if (found.size !== entry.size) problems.push({ file: path, problem: `size ${found.size}, manifest.json says ${entry.size}` });
    else if (found.sha256 !== entry.sha256) problems.push({ file: path, problem: `sha256 ${found.sha256}, manifest.json says ${entry.sha256}` });
  }
  for (const path of actual.keys()) if (!listed.has(path)) problems.push({ file: path, problem: 'not listed in manifest.json' });
  // items: each names a payload file; all but images (whose digest is their manifest's) carry that file's sha256.
  for (const item of manifest.items ?? []) {
    const found = actual.get(item.file);
    if (!found) problems.push({ file: item.file, problem: `manifest.json item ${item.kind} ${item.name}: file missing` });
    else if (item.kind !== 'image' && item.digest !== `sha256:${found.sha256}`) {
      problems.push({ file: item.file, problem: `manifest.json item ${item.kind} ${item.name}: digest ${item.digest}, the file has sha256:${found.sha256}` });
    }
  }
}

async function verifyDebs(dir: string, present: string[], sums: Sums, problems: Problem[], log?: BuildLog): Promise<void> {
  const debs = present.filter((p) => p.startsWith('system/') && p.endsWith('.deb'));
  const packagesFile = join(dir, 'system/Packages');
  const index = existsSync(packagesFile) ? parseStanzas(readFileSync(packagesFile, 'utf8')) : undefined;
  if (debs.length > 0 && !index) problems.push({ file: 'system/Packages', problem: 'missing' });
  for (const deb of debs) {
    const archive = debArchiveProblem(join(dir, deb));
    if (archive) {
      problems.push({ file: deb, problem: archive });
      continue;
    }
    let control: string;
    try {
      control = await debControl(join(dir, deb), { log });
    } catch {
      problems.push({ file: deb, problem: 'control data does not parse (dpkg-deb --field fails)' });
      continue;
    }
    if (!controlField(control, 'Package') || !controlField(control, 'Version')) {
      problems.push({ file: deb, problem: 'control data has no Package or Version' });
      continue;
    }
    const stanza = index?.get(deb.slice('system/'.length));
    if (index && !stanza) problems.push({ file: deb, problem: 'not in system/Packages' });
    else if (stanza) {
      const sum = sums.get(deb)!;
      if (controlField(stanza, 'SHA256') !== sum.sha256 || Number(controlField(stanza, 'Size')) !== sum.size) {
        problems.push({ file: deb, problem: 'size or sha256 differ from its system/Packages entry' });
      } else if (controlField(stanza, 'Package') !== controlField(control, 'Package')) {
        problems.push({ file: deb, problem: 'control data does not match its system/Packages entry' });
      }
    }
  }
  if (index) for (const file of index.keys()) if (!debs.includes(`system/${file}`)) problems.push({ file: `system/${file}`, problem: 'in system/Packages but missing' });
}

async function verifyImages(dir: string, present: string[], problems: Problem[]): Promise<void> {
  const listFile = join(dir, 'images/images.txt');
  // A bundle (packages.imageArchive: bundle) is one file with several lines.
  const refs = new Map<string, string[]>();
  if (existsSync(listFile)) {
    for (const { reference, file } of parseImagesTxt(readFileSync(listFile, 'utf8'))) if (file) refs.set(`images/${file}`, [...(refs.get(`images/${file}`) ?? []), reference]);
  }
  for (const image of present.filter((p) => p.startsWith('images/') && /\.(tar|tar\.gz|tgz|tar\.zst)$/.test(p))) {
    if (!refs.has(image)) problems.push({ file: image, problem: 'not listed in images/images.txt' });
    const check = await checkImage(join(dir, image), refs.get(image));
    for (const p of check.problems) problems.push({ file: image, problem: p });
  }
  for (const file of refs.keys()) if (!present.includes(file)) problems.push({ file, problem: 'listed in images/images.txt but missing' });
}

async function verifyCharts(dir: string, present: string[], problems: Problem[]): Promise<void> {
  const charts = present.filter((p) => p.startsWith('charts/') && p.endsWith('.tgz'));
  const indexFile = join(dir, 'charts/index.yaml');
  if (charts.length > 0 && !existsSync(indexFile)) problems.push({ file: 'charts/index.yaml', problem: 'missing' });
  let index: ReturnType<typeof parseChartIndex> = [];
  if (existsSync(indexFile)) {
    try {
      index = parseChartIndex(readFileSync(indexFile, 'utf8'));
    } catch (err) {
      problems.push({ file: 'charts/index.yaml', problem: `does not parse: ${(err as Error).message}` });
    }
  }
  for (const chart of charts) {
    const entry = index.find((e) => `charts/${e.file}` === chart);
    if (!entry) problems.push({ file: chart, problem: 'not in charts/index.yaml' });
    const check = await checkChart(join(dir, chart), entry ? { name: entry.name, version: entry.version } : {});
    for (const p of check.problems) problems.push({ file: chart, problem: p });
  }
}

/** Clear-signing drops trailing whitespace of each line. */
function normalizeText(text: string): string {
  return text.split('\n').map((l) => l.trimEnd()).join('\n').replace(/\n+$/, '');
}

/** Release lists Packages* with their sha256; InRelease and Release.gpg verify with the shipped public key (gpgv). */
async function verifyRepoIndexes(dir: string, present: string[], sums: Sums, problems: Problem[], log?: BuildLog): Promise<void> {
  if (!present.some((p) => p.startsWith('system/'))) return;
  const release = join(dir, 'system/Release');
  if (!existsSync(release)) {
    problems.push({ file: 'system/Release', problem: 'missing' });
    return;
  }
  const text = readFileSync(release, 'utf8');
  const sha = /^SHA256:\n((?: .*\n?)*)/m.exec(text)?.[1] ?? '';
  for (const line of sha.split('\n').filter((l) => l.trim())) {
    const [hash, size, name] = line.trim().split(/\s+/);
    if (!name) continue;
    const file = `system/${name}`;
    const actual = sums.get(file);
    if (!actual) problems.push({ file, problem: 'listed in system/Release but missing' });
    else if (actual.sha256 !== hash || actual.size !== Number(size)) problems.push({ file, problem: 'size or sha256 differ from system/Release' });
  }
  const key = join(dir, 'system', PUBLIC_KEY_NAME);
  if (!existsSync(key)) {
    problems.push({ file: `system/${PUBLIC_KEY_NAME}`, problem: 'missing' });
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'isob-verify-'));
  try {
    const keyring = join(tmp, 'key.gpg');
    await dearmor(key, keyring, log);
    if (!existsSync(join(dir, 'system/InRelease')) || !(await verifySignature(keyring, join(dir, 'system/InRelease'), undefined, log))) {
      problems.push({ file: 'system/InRelease', problem: `missing or not signed by system/${PUBLIC_KEY_NAME}` });
    } else {
      const signed = await verifiedClearText(keyring, join(dir, 'system/InRelease'), log);
      if (normalizeText(signed) !== normalizeText(text)) problems.push({ file: 'system/InRelease', problem: 'does not carry the same text as system/Release' });
    }
    if (!existsSync(join(dir, 'system/Release.gpg')) || !(await verifySignature(keyring, join(dir, 'system/Release.gpg'), release, log))) {
      problems.push({ file: 'system/Release.gpg', problem: `missing or not a signature of system/Release by system/${PUBLIC_KEY_NAME}` });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export async function verifyPayload(dir: string, log?: BuildLog): Promise<Problem[]> {
  if (!existsSync(dir)) return [{ file: dir, problem: 'payload directory not found' }];
  const present = payloadFiles(dir);
  const problems: Problem[] = [];
  const sums: Sums = new Map((await describeFiles(dir, present)).map((f) => [f.path, f]));
  verifyManifest(dir, sums, problems);
  await verifyDebs(dir, present, sums, problems, log);
  await verifyRepoIndexes(dir, present, sums, problems, log);
  await verifyImages(dir, present, problems);
  await verifyCharts(dir, present, problems);
  return problems;
}
