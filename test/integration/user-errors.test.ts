/** Mistakes a user makes: one-line error, a hint, exit code 2, no stack trace. */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, findmntUnder, fixtureIso, runCli, sh, sha256, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';
import { fixtureBase, writeProfile, type ProfileDocument } from '../support/profile.js';

/** The error is the last lines of stderr (a build's progress, on stderr too, may come before it). */
function expectUserError(res: ReturnType<typeof runCli>, message: RegExp): void {
  expect(res.code).toBe(2);
  const all = res.stderr.trim().split('\n');
  const lines = all.slice(Math.max(0, all.findIndex((l) => l.startsWith('error: '))));
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(message);
  expect(lines.some((l) => l.startsWith('hint: '))).toBe(true);
  expect(res.stderr).not.toMatch(/^\s+at /m);
  expect(lines.length).toBeLessThanOrEqual(3);
}

describe('user errors', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('usererr');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const common = (name: string): string[] => ['--output', join(dir, `out-${name}`), '--work', join(dir, `work-${name}`)];

  it('wrong base sha256', () => {
    const res = runCli(['v1.0.0', '--profile', 'profiles/fixture.yaml', '--base', fixtureIso('single'), '--base-sha256', '0'.repeat(64), ...common('sha')]);
    expectUserError(res, /has sha256 [0-9a-f]{64}, expected 0{64}/);
    // hashed before any extraction: nothing of the wrong file is in the stage cache
    const cache = join(dir, 'work-sha', 'stage-cache');
    expect(existsSync(cache) ? readdirSync(cache).filter((name) => name.startsWith('iso-')) : []).toEqual([]);
  });

  it('an unknown ISO_BUILD_ISO_WRITER, refused before the output or work directory exists', () => {
    const res = runCli(['v1.0.0', '--profile', 'profiles/fixture.yaml', ...common('writer')], { env: { ISO_BUILD_ISO_WRITER: 'mkisofs' } });
    expectUserError(res, /ISO_BUILD_ISO_WRITER=mkisofs is not a writer/);
    expect(existsSync(join(dir, 'out-writer'))).toBe(false);
    expect(existsSync(join(dir, 'work-writer'))).toBe(false);
  });

  it('a base file that is not an ISO', () => {
    const fake = join(dir, 'not-an.iso');
    writeFileSync(fake, Buffer.alloc(40000, 1));
    // pinned by its true sha256: the hash passes and the format check speaks (a wrong pin reports the mismatch first)
    const res = runCli(['v1.0.0', '--profile', 'profiles/fixture.yaml', '--base', fake, '--base-sha256', sha256(fake), ...common('notiso')]);
    expectUserError(res, /not an ISO 9660 image/);
  });

  it('a missing overlay directory', () => {
    const profile = writeProfile(dir, 'missing-overlay', { name: 'x', base: fixtureBase('single'), overlay: [{ source: './no-such-dir', target: '/etc' }] });
    const res = runCli(['v1.0.0', '--profile', profile, ...common('overlay')]);
    expectUserError(res, /missing-overlay\.yaml:\d+:\d+: overlay\[0\]\.source.*no-such-dir/);
  });

  it('an unknown profile key', () => {
    mkdirSync(join(dir, 'o'), { recursive: true });
    copyFileSync(join(FIXTURES, 'SHA256SUMS'), join(dir, 'SHA256SUMS'));
    // the misspelt key is the point: past the type on purpose
    const profile = writeProfile(dir, 'unknown-key', { name: 'x', base: fixtureBase('single'), rootfs: { compresion: 'xz' } } as ProfileDocument);
    const res = runCli(['v1.0.0', '--profile', profile, ...common('key')]);
    expectUserError(res, /unknown-key\.yaml:6:\d+: .*unknown key "compresion".*rootfs/);
  });

  it('an ISO without a rootfs squashfs', () => {
    const tree = join(dir, 'plain-tree');
    mkdirSync(join(tree, 'docs'), { recursive: true });
    writeFileSync(join(tree, 'docs/readme.txt'), 'no system here');
    const plain = join(dir, 'plain.iso');
    sh('xorriso', ['-as', 'mkisofs', '-r', '-o', plain, tree]);
    const res = runCli(['v1.0.0', '--profile', 'profiles/fixture.yaml', '--base', plain, '--base-sha256', sha256(plain), ...common('norootfs')]);
    expectUserError(res, /the base ISO has no rootfs squashfs/);
    expect(findmntUnder(join(dir, 'work-norootfs'))).toEqual([]);
  });

  it('a version that is neither semver with v nor a date', () => {
    for (const bad of ['1.0.0', 'v1.0', '20261350']) {
      expectUserError(runCli([bad, '--profile', 'profiles/fixture.yaml', ...common('ver')]), /is not a release version/);
    }
  });

  it('a first word that is neither a verb nor a version is an unknown command, with a did-you-mean', () => {
    expectUserError(runCli(['frobnicate']), /^error: unknown command "frobnicate"$/);
    expectUserError(runCli(['latest', '--profile', 'profiles/fixture.yaml']), /^error: unknown command "latest"$/);
    const typo = runCli(['bild', 'v1.0.0']);
    expectUserError(typo, /^error: unknown command "bild": did you mean build\?$/);
    expect(typo.stderr).toMatch(/^hint: commands: build, boot, report, inspect, verify, profile, init, packages/m);
    expectUserError(runCli(['--quiet', 'bild', 'v1.0.0']), /did you mean build\?$/);
    expectUserError(runCli(['profile', 'valdate', 'x.yaml']), /^error: unknown command "profile valdate": did you mean profile validate\?$/);
  });
});
