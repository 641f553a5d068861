/**
 * The remaster pipeline on the single-squashfs fixture, read back with independent tools:
 * sha256sum, xorriso's El Torito report, unsquashfs, md5sum.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, findmntUnder, fixtureIso, fixtureSha, runCli, sh, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';

const VERSION = 'v1.0.0';

describe('build from the single-squashfs fixture', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  let out: string;
  let iso: string;
  let result: ReturnType<typeof runCli>;

  beforeAll(() => {
    dir = tempDir('build');
    out = join(dir, 'release');
    result = runCli([VERSION, '--profile', 'profiles/fixture.yaml', '--output', out, '--work', join(dir, 'work'), '--keep-work'], {
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    });
    iso = join(out, `novasphere-fixture-${VERSION}.iso`);
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 and writes the ISO and SHA256SUMS that sha256sum -c accepts', () => {
    expect(result.stderr).not.toMatch(/^(error|internal error)/m);
    expect(result.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['RELEASE-NOTES.md', 'SHA256SUMS', 'build-manifest.json', `novasphere-fixture-${VERSION}.iso`, 'report.html']);
    expect(sh('sha256sum', ['-c', 'SHA256SUMS'], out)).toContain(': OK');
  });

  it('has a BIOS and a UEFI El Torito boot image (xorriso report)', () => {
    const report = sh('xorriso', ['-indev', iso, '-report_el_torito', 'plain']);
    expect(report).toMatch(/El Torito boot img\s*:\s*\d+\s+BIOS/);
    expect(report).toMatch(/El Torito boot img\s*:\s*\d+\s+UEFI/);
  });

  it('replays the base hybrid MBR/GPT setup (same as_mkisofs options apart from the label)', () => {
    const strip = (s: string): string =>
      s.split('\n').filter((l) => !/^-V |^--modification-date|^-volume_date/.test(l)).join('\n').replaceAll(fixtureIso('single'), 'X').replaceAll(iso, 'X');
    const base = sh('xorriso', ['-indev', fixtureIso('single'), '-report_el_torito', 'as_mkisofs']);
    const built = sh('xorriso', ['-indev', iso, '-report_el_torito', 'as_mkisofs']);
    // interval sizes of the appended partition may shift, the kind of each option must not
    const kinds = (s: string): string[] => strip(s).split('\n').map((l) => l.split(' ')[0]!);
    expect(kinds(built)).toEqual(kinds(base));
  });

  it('md5sum.txt matches every file read back from the ISO (md5sum -c)', () => {
    const tree = join(dir, 'readback');
    sh('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', tree]);
    const check = sh('md5sum', ['-c', 'md5sum.txt'], tree);
    expect(check).not.toMatch(/FAILED/);
    expect(check).toContain('./casper/filesystem.squashfs: OK');
    const lines = readFileSync(join(tree, 'md5sum.txt'), 'utf8').trim().split('\n');
    const paths = lines.map((l) => l.slice(34));
    expect(paths).toEqual([...paths].sort());
    expect(paths).not.toContain('./md5sum.txt');
    expect(paths).not.toContain('./boot.catalog');
    expect(readFileSync(join(tree, '.disk/info'), 'utf8')).toContain(`NovaSphere Fixture ${VERSION}`);
    sh('chmod', ['-R', 'u+w', tree]);
  });

  it('rootfs carries VERSION, build-info.json, overlay files (mode, root owner) and the chroot result', () => {
    const tree = join(dir, 'work/iso');
    const sqfs = join(tree, 'casper/filesystem.squashfs');
    expect(sh('unsquashfs', ['-cat', sqfs, 'opt/novasphere/VERSION'])).toBe(`${VERSION}\n`);
    const info = JSON.parse(sh('unsquashfs', ['-cat', sqfs, 'opt/novasphere/build-info.json'])) as Record<string, unknown>;
    expect(info).toMatchObject({ version: VERSION, profile: 'novasphere-fixture', sourceDateEpoch: 1700000000 });
    expect(info.baseIso).toEqual({ name: 'fixture-single.iso', sha256: fixtureSha('single') });
    const listing = sh('unsquashfs', ['-lln', sqfs, 'etc/fixture-boot.d/20-overlay-check', 'etc/novasphere']);
    expect(listing).toMatch(/-rwxr-xr-x 0\/0 .* squashfs-root\/etc\/fixture-boot.d\/20-overlay-check/);
    expect(sh('unsquashfs', ['-cat', sqfs, 'etc/novasphere/chroot-proof'])).toMatch(/^chroot ran on Debian 12\.\d+ as root/);
    // the chroot session left nothing behind
    expect(sh('unsquashfs', ['-lln', sqfs, 'usr/sbin'])).not.toContain('policy-rc.d');
    expect(sh('unsquashfs', ['-lln', sqfs, 'var/log'])).not.toMatch(/dpkg\.log|alternatives\.log/);
    expect(readFileSync(join(tree, 'casper/filesystem.manifest'), 'utf8')).toMatch(/^dpkg\t1\.21/m);
    const size = Number(readFileSync(join(tree, 'casper/filesystem.size'), 'utf8'));
    expect(size).toBeGreaterThan(50e6);
    // the same sum as the kernel shows it (lstat sizes of every non-directory)
    const mnt = join(dir, 'size-mnt');
    mkdirSync(mnt, { recursive: true });
    sh('mount', ['-t', 'squashfs', '-o', 'ro,loop', sqfs, mnt]);
    try {
      expect(sh('find', [mnt, '!', '-type', 'd', '-printf', '%s\\n']).split('\n').filter(Boolean).reduce((sum, n) => sum + Number(n), 0)).toBe(size);
    } finally {
      sh('umount', [mnt]);
    }
  });

  it('leaves no mounts and no partial file', () => {
    expect(findmntUnder(dir)).toEqual([]);
    expect(existsSync(`${iso}.partial`)).toBe(false);
  });

  it('refuses to overwrite the published ISO without --force', () => {
    const again = runCli([VERSION, '--profile', 'profiles/fixture.yaml', '--output', out, '--work', join(dir, 'work2')]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
  });
});

describe('fixtures', needs(requireFixtures()), () => {
  it('are where the fixture profile expects them', () => {
    expect(existsSync(join(FIXTURES, 'SHA256SUMS'))).toBe(true);
  });
});
