/**
 * A single-squashfs base packed like the profile packs (`compression: auto`, the default: the fixtures' xz): the rootfs is not unpacked, the chroot
 * works on an overlay over the mounted base squashfs, and the cached layer and this build's changes are merged into
 * the base image with its compressed blocks reused (issue 16, direction 1). Read back with sqfsdiff and unsquashfs
 * against the same profile built the other way (gzip: unpacked and compressed again), for casper and Debian live.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findmntUnder, fixtureIso, fixtureSha, runCli, sh, sha256, tempDir, type Variant } from '../support/cli.js';
import { needs, requireFixtures, requireRoot, requireTools } from '../support/needs.js';
import { FIXTURE_OVERLAY, writeProfile } from '../support/profile.js';
import { packsLike, resolvePacking } from '../../src/base-compression.js';
import { BuildLog } from '../../src/build-log.js';

const VERSION = 'v1.0.0';
const SQUASHFS: Record<string, string> = { single: '/casper/filesystem.squashfs', live: '/live/filesystem.squashfs' };

describe.each(['single', 'live'] as Variant[])('merge into the base squashfs (fixture-%s)', needs(requireRoot(), requireFixtures(), requireTools('sqfsdiff')), (variant) => {
  let dir: string;
  const env = { SOURCE_DATE_EPOCH: '1700000000' };

  const build = (compression: 'auto' | 'gzip', work: string, out: string): { iso: string; log: string } => {
    const profile = writeProfile(dir, `p-${compression}`, {
      name: 'merge',
      base: { path: fixtureIso(variant), sha256: fixtureSha(variant) },
      rootfs: { compression },
      overlay: [FIXTURE_OVERLAY],
      // a new file, a deleted base file (a whiteout in the layer) and a changed one, at the stage-cache point
      chroot: { commands: ['echo merged > /etc/merge-proof && rm /etc/issue.net && echo changed > /etc/hostname'] },
    });
    const res = runCli([VERSION, '--profile', profile, '--work', join(dir, work), '--output', join(dir, out)], { env });
    expect(res.stderr).not.toMatch(/^(error|internal error)/m);
    expect(res.code, res.stderr).toBe(0);
    expect(findmntUnder(join(dir, work))).toEqual([]);
    return { iso: join(dir, out, `merge-${VERSION}.iso`), log: readFileSync(join(dir, work, 'build.log'), 'utf8') };
  };
  const squashfsOf = (iso: string, name: string): string => {
    const file = join(dir, `${name}.squashfs`);
    sh('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', SQUASHFS[variant]!, file]);
    return file;
  };

  let merged: { iso: string; log: string };
  beforeAll(() => {
    dir = tempDir(`merge-${variant}`);
    merged = build('auto', 'work-xz', 'out-xz');
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says so, never unpacks the rootfs and reuses the base compressed bytes', () => {
    expect(merged.log).toMatch(/^rootfs\.compression auto: xz, the base's own \(xz, 128 KiB blocks\)$/m);
    expect(merged.log).toMatch(/^rootfs: \S+ is packed like this build packs \(xz, 128 KiB blocks\): the changes are merged into it/m);
    expect(merged.log).not.toContain('$ unsquashfs -processors');
    const line = /^merged (\S+) and changes\.squashfs into filesystem\.squashfs: \d+ inodes, (\d+) bytes reused, (\d+) bytes added$/m.exec(merged.log);
    expect(line, merged.log.slice(-2000)).not.toBeNull();
    const base = squashfsOf(fixtureIso(variant), 'base');
    const reused = Number(line![2]);
    // the base's whole data region (everything but its tables) is reused, and far more than what was added
    expect(reused).toBeGreaterThan(0.8 * readFileSync(base).length);
    expect(reused).toBeGreaterThan(10 * Number(line![3]));
  });

  it('holds the same tree as the same profile unpacked and compressed again (sqfsdiff), whiteouts applied', () => {
    const repacked = build('gzip', 'work-gzip', 'out-gzip');
    expect(repacked.log).toMatch(/^rootfs: \S+ is packed xz, 128 KiB blocks; this build packs gzip \(rootfs\.compression\): the whole rootfs is unpacked/m);
    const a = squashfsOf(merged.iso, 'merged');
    const b = squashfsOf(repacked.iso, 'repacked');
    const diff = (() => {
      try {
        return sh('sqfsdiff', ['-a', a, '-b', b]);
      } catch (err) {
        return String((err as { stdout?: string }).stdout ?? err);
      }
    })();
    expect(diff.split('\n').filter((l) => l && !/ has an? (basic|extended) type$/.test(l))).toEqual([]);
    expect(sh('unsquashfs', ['-cat', a, 'etc/merge-proof'])).toBe('merged\n');
    expect(sh('unsquashfs', ['-cat', a, 'etc/hostname'])).toBe('changed\n');
    expect(sh('unsquashfs', ['-cat', a, 'opt/novasphere/VERSION'])).toBe(`${VERSION}\n`);
    expect(sh('unsquashfs', ['-lls', a, 'etc'])).not.toMatch(/issue\.net/);
    // no overlayfs whiteout (a 0/0 character device) or marker reaches the merged filesystem
    expect(sh('unsquashfs', ['-lln', a])).not.toMatch(/^c\S+ 0\/0 +0, +0 /m);
  });

  it('a rebuild from the stage cache and a build in another work directory give the same bytes', () => {
    const again = build('auto', 'work-xz', 'out-xz-again');
    expect(again.log).not.toContain('chroot command');
    expect(sha256(again.iso)).toBe(sha256(merged.iso));
    const elsewhere = build('auto', 'other/deeper/work', 'out-xz-elsewhere');
    expect(sha256(elsewhere.iso)).toBe(sha256(merged.iso));
  });
});

describe('compression auto: the base squashfs decides, as mksquashfs recorded it', needs(requireTools('mksquashfs')), () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('packing');
    mkdirSync(join(dir, 'tree'));
    writeFileSync(join(dir, 'tree/file'), 'x'.repeat(100_000));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const packed = (name: string, args: string[]): string => {
    const image = join(dir, `${name}.squashfs`);
    sh('mksquashfs', [join(dir, 'tree'), image, '-noappend', '-quiet', ...args]);
    return image;
  };

  it.each([
    ['zstd level 3', ['-comp', 'zstd', '-Xcompression-level', '3'], { compression: 'zstd', level: 3 }],
    ['zstd at its default', ['-comp', 'zstd'], { compression: 'zstd', level: undefined }],
    ['gzip level 1', ['-comp', 'gzip', '-Xcompression-level', '1'], { compression: 'gzip', level: 1 }],
    ['xz', ['-comp', 'xz'], { compression: 'xz', level: undefined }],
    ['lz4 (not written here: xz)', ['-comp', 'lz4'], { compression: 'xz', level: undefined }],
  ] as const)('%s', async (name, args, expected) => {
    const image = packed(name.replace(/\W+/g, '-'), [...args]);
    const resolved = await resolvePacking(image, { compression: 'auto' });
    expect(resolved.packing).toEqual(expected);
    const log = new BuildLog(join(dir, `${name.replace(/\W+/g, '-')}.log`));
    // what auto chose packs like the base, except where the base's compressor is not one a build writes
    expect((await packsLike(resolved.baseImage, resolved.packing, dir, log)).same).toBe(!name.startsWith('lz4'));
  });

  it('an explicit compression other than the base is not merged', async () => {
    const image = packed('zstd3', ['-comp', 'zstd', '-Xcompression-level', '3']);
    const resolved = await resolvePacking(image, { compression: 'zstd', compressionLevel: 19 });
    expect(resolved.packing).toEqual({ compression: 'zstd', level: 19 });
    const log = new BuildLog(join(dir, 'explicit.log'));
    expect(await packsLike(resolved.baseImage, resolved.packing, dir, log)).toEqual({ same: false, build: 'zstd, 128 KiB blocks, options 048013000000' });
  });
});
