/**
 * A layered base whose casper/install-sources.yaml does not describe its layers (#12 item 4): a chain with a gap, a
 * default source naming a missing layer, no source at all, no path, a file that is not YAML. Each build exits 2 with one
 * line that names the file and what is missing, before anything is unpacked. The bases are the jammy fixture changed
 * with xorriso (boot setup replayed), so everything else about them is a real 22.04-shaped medium.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, findmntUnder, runCli, sh, sha256, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot, requireTools } from '../support/needs.js';

/** Made with the others by the global setup (scripts/make-fixture-iso --variant all). */
const JAMMY = join(FIXTURES, 'fixture-jammy.iso');
const SOURCES = '/casper/install-sources.yaml';
const MINIMAL = '/casper/ubuntu-server-minimal.squashfs';
const SERVER = '/casper/ubuntu-server-minimal.ubuntu-server.squashfs';

describe('layered bases with an inconsistent install-sources.yaml', needs(requireRoot(), requireTools('xorriso'), requireFixtures()), () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('layered-errors');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The jammy fixture with `remove` deleted and install-sources.yaml replaced by `sources` (when given). */
  function craft(name: string, edit: { remove?: string; sources?: string }): string {
    const iso = join(dir, `${name}.iso`);
    const args = ['-indev', JAMMY, '-outdev', iso, '-boot_image', 'any', 'replay'];
    if (edit.remove) args.push('-rm', edit.remove, '--');
    if (edit.sources !== undefined) {
      writeFileSync(join(dir, `${name}.yaml`), edit.sources);
      args.push('-map', join(dir, `${name}.yaml`), SOURCES);
    }
    sh('xorriso', [...args, '-commit']);
    return iso;
  }

  const cases: [string, { remove?: string; sources?: string }, RegExp][] = [
    [
      'a chain with a gap',
      { remove: MINIMAL },
      /casper\/ubuntu-server-minimal\.ubuntu-server\.squashfs named by casper\/install-sources\.yaml \(source ubuntu-server, the default\) sits on missing layers: casper\/ubuntu-server-minimal\.squashfs$/,
    ],
    [
      'a default source naming a missing layer',
      { remove: SERVER },
      /layer casper\/ubuntu-server-minimal\.ubuntu-server\.squashfs named by casper\/install-sources\.yaml \(source ubuntu-server, the default\) is not on the base ISO$/,
    ],
    ['no install source at all', { sources: '[]\n' }, /casper\/install-sources\.yaml of the base ISO lists no install sources, so there is no default source/],
    ['a default source without a path', { sources: '- id: broken\n  default: true\n  type: fsimage\n' }, /casper\/install-sources\.yaml \(source broken, the default\) has no path/],
    ['a file that is not YAML', { sources: '- id: [unclosed\n' }, /casper\/install-sources\.yaml of the base ISO is not valid YAML/],
  ];

  it.each(cases)('%s', (name, edit, message) => {
    const slug = name.replace(/\W+/g, '-');
    const iso = craft(slug, edit);
    const work = join(dir, `work-${slug}`);
    const res = runCli(['v1.0.0', '--profile', 'profiles/fixture.yaml', '--base', iso, '--base-sha256', sha256(iso), '--work', work, '--output', join(dir, `out-${slug}`)]);
    expect(res.code, res.stderr).toBe(2);
    const lines = res.stderr.trim().split('\n');
    const at = lines.findIndex((l) => l.startsWith('error: '));
    expect(lines[at]).toMatch(message);
    expect(lines.slice(at + 1).every((l) => l.startsWith('hint: '))).toBe(true);
    expect(res.stderr).not.toMatch(/^\s+at |internal error/m);
    expect(findmntUnder(work)).toEqual([]);
  });

  it('inspect (the in-process reader) says so too for the non-YAML one', () => {
    const res = runCli(['inspect', join(dir, 'a-file-that-is-not-YAML.iso')]);
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toMatch(/^error: .*casper\/install-sources\.yaml is not valid YAML/m);
    expect(res.stderr).not.toMatch(/^\s+at |internal error/m);
  });
});
