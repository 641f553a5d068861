/**
 * Reproducible builds: the same profile, inputs and version give a byte-identical ISO whatever the work directory,
 * checkout location, TZ, locale or umask; a one-byte overlay change changes it; `--check-reproducible` builds twice and,
 * when the builds differ, names the first differing file (inside the squashfs).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO, findmntUnder, fixtureIso, fixtureSha, sha256, tempDir, type CliResult } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';

const VERSION = 'v1.0.0';
const ISO = `novasphere-fixture-${VERSION}.iso`;
const EPOCH = '1700000000';

/** Run the CLI from `cwd` with a given umask and environment (the umask is set by the shell that execs node). */
function build(args: string[], opts: { cwd?: string; umask?: string; env?: Record<string, string> } = {}): CliResult {
  const res = spawnSync('sh', ['-c', `umask ${opts.umask ?? '022'} && exec node "$@"`, 'sh', CLI, ...args], {
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, CI: 'true', SOURCE_DATE_EPOCH: EPOCH, ...opts.env },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return { code: res.status, signal: res.signal, stdout: res.stdout, stderr: res.stderr };
}

/**
 * A second checkout elsewhere: profiles/ and overlay/ copied (so they can be edited), everything else linked.
 * The profile's relative paths (../fixtures, ../overlay, templates/) resolve the same way.
 */
function checkoutCopy(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(REPO)) {
    if (['profiles', 'overlay', '.git', '.iso-build', 'release'].includes(name)) continue;
    symlinkSync(join(REPO, name), join(dir, name));
  }
  cpSync(join(REPO, 'profiles'), join(dir, 'profiles'), { recursive: true });
  cpSync(join(REPO, 'overlay'), join(dir, 'overlay'), { recursive: true });
  return dir;
}

describe('reproducible builds of the fixture', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  let checked: CliResult;
  let other: CliResult;
  let changed: CliResult;

  beforeAll(() => {
    dir = tempDir('repro');
    // 1. The release build with --check-reproducible (two builds inside), from the repository, TZ=UTC, umask 022.
    checked = build([VERSION, '--profile', 'profiles/fixture.yaml', '--output', join(dir, 'a/release'), '--work', join(dir, 'a/work'), '--check-reproducible'], {
      env: { TZ: 'UTC', LC_ALL: 'C' },
    });
    // 2. Another checkout, another (deeper) work directory, another TZ, locale and umask.
    const copy = checkoutCopy(tempDir('repro-checkout'));
    other = build([VERSION, '--profile', 'profiles/fixture.yaml', '--output', join(dir, 'b/release'), '--work', join(dir, 'b/x/y/work')], {
      cwd: copy,
      umask: '077',
      env: { TZ: 'Asia/Kathmandu', LANG: 'de_DE.UTF-8', LC_ALL: '' },
    });
    // 3. The same, but one byte of one overlay file changed.
    const marker = join(copy, 'overlay/fixture/rootfs/etc/novasphere/overlay-marker');
    const bytes = readFileSync(marker);
    bytes[0] = bytes[0]! ^ 1;
    writeFileSync(marker, bytes);
    changed = build([VERSION, '--profile', 'profiles/fixture.yaml', '--output', join(dir, 'c/release'), '--work', join(dir, 'c/work')], { cwd: copy });
    rmSync(copy, { recursive: true, force: true });
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--check-reproducible builds twice, finds the same sha256 and publishes the release', () => {
    expect(checked.stderr).not.toMatch(/^(error|internal error)/m);
    expect(checked.code).toBe(0);
    expect(checked.stdout).toMatch(/reproducible: a second build in another work directory gave the same sha256/);
    expect(existsSync(join(dir, 'a/release', ISO))).toBe(true);
    expect(existsSync(join(dir, 'a/work.repro'))).toBe(false);
  });

  it('--check-reproducible refuses a WORK.repro it did not make, before any build, and leaves it as it was', () => {
    const mine = join(dir, 'own/work.repro');
    mkdirSync(mine, { recursive: true });
    writeFileSync(join(mine, 'notes.txt'), 'a user file');
    const res = build([VERSION, '--profile', 'profiles/fixture.yaml', '--output', join(dir, 'own/release'), '--work', join(dir, 'own/work'), '--check-reproducible']);
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toMatch(/^error: the work directory .*own\/work\.repro holds files iso-build did not make/m);
    expect(res.stderr).not.toMatch(/^\s+at /m);
    expect(readdirSync(mine)).toEqual(['notes.txt']);
    expect(existsSync(join(dir, 'own/release'))).toBe(false);
  });

  it('a build in another checkout and work directory, with another TZ, locale and umask, has the same sha256', () => {
    expect(other.stderr).not.toMatch(/^(error|internal error)/m);
    expect(other.code).toBe(0);
    expect(other.stderr).toContain('SHA256SUMS is not signed: no gpg key named');
    expect(sha256(join(dir, 'b/release', ISO))).toBe(sha256(join(dir, 'a/release', ISO)));
    // the manifests agree on what matters (tool versions are the same host here)
    const manifest = (d: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, d, 'release/build-manifest.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest('b')).toEqual(manifest('a'));
  });

  it('a one-byte change of an overlay file changes the sha256 (and the manifest names the input)', () => {
    expect(changed.stderr).not.toMatch(/^(error|internal error)/m);
    expect(changed.code).toBe(0);
    expect(sha256(join(dir, 'c/release', ISO))).not.toBe(sha256(join(dir, 'a/release', ISO)));
    const inputs = (d: string): { path: string; sha256: string }[] =>
      (JSON.parse(readFileSync(join(dir, d, 'release/build-manifest.json'), 'utf8')) as { inputs: { path: string; sha256: string }[] }).inputs;
    const differs = inputs('c').filter((f, i) => f.sha256 !== inputs('a')[i]?.sha256).map((f) => f.path);
    expect(differs).toEqual(['../overlay/fixture/rootfs/etc/novasphere/overlay-marker']);
  });

  it('leaves no mounts', () => {
    expect(findmntUnder(dir)).toEqual([]);
  });
});

// The other ISO writer: a layered base gets a new top layer, written in place over the base (the fixture above is a
// repacked single squashfs, which xorriso writes).
describe('reproducible builds written in place (layered base, new top layer)', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  let checked: CliResult;
  let other: CliResult;
  const base = ['--base', fixtureIso('layered'), '--base-sha256', fixtureSha('layered')];
  beforeAll(() => {
    dir = tempDir('repro-in-place');
    checked = build([VERSION, '--profile', 'profiles/fixture.yaml', ...base, '--output', join(dir, 'a/release'), '--work', join(dir, 'a/work'), '--check-reproducible'], { env: { TZ: 'UTC' } });
    other = build([VERSION, '--profile', 'profiles/fixture.yaml', ...base, '--output', join(dir, 'b/release'), '--work', join(dir, 'b/deeper/work')], {
      umask: '077',
      env: { TZ: 'Pacific/Chatham', LANG: 'de_DE.UTF-8', LC_ALL: '' },
    });
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('two builds in one run and a third elsewhere, with another TZ and umask, give the same sha256', () => {
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toMatch(/reproducible: a second build in another work directory gave the same sha256/);
    expect(other.code, other.stderr).toBe(0);
    expect(readFileSync(join(dir, 'b/deeper/work/build.log'), 'utf8')).toMatch(/^write: in place over the base ISO/m);
    expect(sha256(join(dir, 'b/release', ISO))).toBe(sha256(join(dir, 'a/release', ISO)));
  });

  it('iso-build verify reads every md5sum.txt line of the in-place ISO back and finds them right', () => {
    const res = build(['verify', join(dir, 'a/release', ISO), '--expect-version', VERSION]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
  });
});

describe('reproducible builds written in place (single base, changes merged into its squashfs, its blocks kept)', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  let checked: CliResult;
  let other: CliResult;
  let again: CliResult;
  let profile: string;
  beforeAll(() => {
    dir = tempDir('repro-merged');
    // The base's own xz: the changes are merged into filesystem.squashfs, which keeps its blocks in the base's extent.
    profile = join(dir, 'merged.yaml');
    writeFileSync(profile, `extends: ${join(REPO, 'profiles/fixture.yaml')}\nrootfs:\n  compression: xz\n`);
    checked = build([VERSION, '--profile', profile, '--output', join(dir, 'a/release'), '--work', join(dir, 'a/work'), '--check-reproducible'], { env: { TZ: 'UTC' } });
    other = build([VERSION, '--profile', profile, '--output', join(dir, 'b/release'), '--work', join(dir, 'b/deeper/work')], {
      umask: '077',
      env: { TZ: 'Pacific/Chatham', LANG: 'de_DE.UTF-8', LC_ALL: '' },
    });
    // The same inputs again in b's work directory: the rootfs from the stage cache, the head's hash resumed.
    again = build([VERSION, '--profile', profile, '--output', join(dir, 'c/release'), '--work', join(dir, 'b/deeper/work')]);
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the same sha256 in one run, elsewhere with another TZ and umask, and from the stage cache', () => {
    for (const r of [checked, other, again]) expect(r.code, r.stderr).toBe(0);
    expect(checked.stdout).toMatch(/reproducible: a second build in another work directory gave the same sha256/);
    const log = readFileSync(join(dir, 'b/deeper/work/build.log'), 'utf8');
    expect(log).toMatch(/^write: \/casper\/filesystem\.squashfs keeps its first \d+ bytes where the base has them/m);
    expect(log).toMatch(/^write: the sha256 state after the first \d+ bytes is the one an earlier build in this work directory saved/m);
    expect(sha256(join(dir, 'b/release', ISO))).toBe(sha256(join(dir, 'a/release', ISO)));
    expect(sha256(join(dir, 'c/release', ISO))).toBe(sha256(join(dir, 'a/release', ISO)));
    // SHA256SUMS holds what the file hashes to (the resumed state included).
    expect(readFileSync(join(dir, 'c/release/SHA256SUMS'), 'utf8')).toContain(`${sha256(join(dir, 'c/release', ISO))}  ${ISO}`);
  });

  it('iso-build verify reads every md5sum.txt line back, the two-extent squashfs included', () => {
    const res = build(['verify', join(dir, 'b/release', ISO), '--expect-version', VERSION]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
  });
});

describe('--check-reproducible on a build that is not reproducible', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  let result: CliResult;
  /** An earlier release that --force would replace: a failed check must leave it as it was. */
  const earlier: Record<string, string> = {
    [`novasphere-fixture-${VERSION}.iso`]: 'the earlier ISO\n',
    SHA256SUMS: 'earlier sums\n',
    'RELEASE-NOTES.md': 'earlier notes\n',
  };

  beforeAll(() => {
    dir = tempDir('unrepro');
    mkdirSync(join(dir, 'release'));
    for (const [name, text] of Object.entries(earlier)) writeFileSync(join(dir, 'release', name), text);
    const copy = checkoutCopy(join(dir, 'checkout'));
    // a chroot command that writes the build clock into the rootfs (the rest of the profile trimmed to what this
    // test is about: the report names the first differing file)
    const profile = join(copy, 'profiles/fixture.yaml');
    writeFileSync(
      profile,
      readFileSync(profile, 'utf8')
        .replace(/^(packages|autoinstall|bootMenu|hooks):\n(?:[ #].*\n|\n)*/gm, '')
        .replace(/^  commands:\n/m, '  commands:\n    - mkdir -p /etc/novasphere && date +%s%N > /etc/novasphere/built-at\n'),
    );
    result = build([VERSION, '--profile', 'profiles/fixture.yaml', '--output', join(dir, 'release'), '--work', join(dir, 'work'), '--check-reproducible', '--force'], { cwd: copy });
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fails with exit code 3 naming the file inside the squashfs, publishes nothing and puts the earlier release back (--force)', () => {
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/^error: not reproducible: .*first differing file: \/etc\/novasphere\/built-at in casper\/filesystem\.squashfs \(content/m);
    expect(result.stderr).toMatch(/^hint: nothing was published; both ISOs are kept: /m);
    expect(readdirSync(join(dir, 'release')).sort()).toEqual(Object.keys(earlier).sort());
    for (const [name, text] of Object.entries(earlier)) expect(readFileSync(join(dir, 'release', name), 'utf8')).toBe(text);
    expect(findmntUnder(dir)).toEqual([]);
  });
});
