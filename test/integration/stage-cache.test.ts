/**
 * The stage cache in the work directory: a rebuild that changes only an overlay file or the version reuses the
 * extracted ISO tree and the customized rootfs with its squashfs (no xorriso extraction, no unsquashfs, no chroot
 * commands, no apt, no mksquashfs of the rootfs) and still gives the ISO a full build gives.
 */
import { appendFileSync, closeSync, cpSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, findmntUnder, fixtureIso, fixtureSha, runCli, sh, sha256, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';
import { writeProfile } from '../support/profile.js';

describe('stage cache', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  let profile: string;
  const env = { SOURCE_DATE_EPOCH: '1700000000' };

  const build = (work: string, out: string, version = 'v1.0.0'): { iso: string; log: string } => {
    const res = runCli([version, '--profile', profile, '--work', join(dir, work), '--output', join(dir, out)], { env });
    expect(res.stderr).not.toMatch(/^(error|internal error)/m);
    expect(res.code).toBe(0);
    expect(findmntUnder(join(dir, work))).toEqual([]);
    return { iso: join(dir, out, `cache-test-${version}.iso`), log: readFileSync(join(dir, work, 'build.log'), 'utf8') };
  };

  const writeProfileWith = (command: string): void => {
    profile = writeProfile(dir, 'profile', {
      name: 'cache-test',
      base: { path: join(dir, 'base.iso'), sha256: fixtureSha('single') },
      rootfs: { compression: 'gzip' },
      overlay: [{ source: join(dir, 'overlay'), target: '/' }],
      chroot: { commands: [command] },
    });
  };

  beforeAll(() => {
    dir = tempDir('stagecache');
    cpSync(join(REPO, 'overlay/fixture/rootfs'), join(dir, 'overlay'), { recursive: true });
    cpSync(fixtureIso('single'), join(dir, 'base.iso'));
    writeProfileWith('echo cached-step > /etc/cached-step');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a rebuild with the same inputs reuses the rootfs and is byte-identical to the full build', () => {
    const full = build('work', 'out-full');
    expect(full.log).toContain('chroot command 1/1');
    const again = build('work', 'out-again');
    expect(again.log).not.toContain('chroot command');
    expect(again.log).not.toContain('$ unsquashfs -processors'); // the rootfs unpack
    expect(again.log).not.toContain('-osirrox on -indev'); // the base ISO's extraction
    expect(again.log).toMatch(/sha256 \w+ OK \(remembered: the file is unchanged/);
    // Only this build's changes are packed; the cached rootfs's squashfs is reused, its blocks merged as they are.
    const packed = [...again.log.matchAll(/^\$ mksquashfs (\S+)/gm)].map((m) => m[1]);
    expect(packed).toEqual([join(dir, 'work', 'changes')]);
    expect(again.log).toMatch(/merged .* bytes reused/);
    expect(sha256(again.iso)).toBe(sha256(full.iso));
  });

  it('an overlay change or a new version rebuilds from the cache and shows the change', () => {
    appendFileSync(join(dir, 'overlay/etc/novasphere/overlay-marker'), 'changed\n');
    const rebuilt = build('work', 'out-overlay', 'v1.0.1');
    expect(rebuilt.log).not.toContain('chroot command');
    const tree = join(dir, 'tree-overlay');
    sh('xorriso', ['-osirrox', 'on', '-indev', rebuilt.iso, '-extract', '/casper/filesystem.squashfs', join(tree, 'fs.squashfs')]);
    const sqfs = join(tree, 'fs.squashfs');
    expect(sh('unsquashfs', ['-cat', sqfs, 'etc/novasphere/overlay-marker'])).toContain('changed');
    expect(sh('unsquashfs', ['-cat', sqfs, 'etc/cached-step'])).toBe('cached-step\n');
    expect(sh('unsquashfs', ['-cat', sqfs, 'opt/novasphere/VERSION'])).toBe('v1.0.1\n');
  });

  it('a changed chroot command is not served from the cache', () => {
    writeProfileWith('echo changed-step > /etc/cached-step');
    const rebuilt = build('work', 'out-command');
    expect(rebuilt.log).toContain('chroot command 1/1');
    const tree = join(dir, 'tree-command');
    sh('xorriso', ['-osirrox', 'on', '-indev', rebuilt.iso, '-extract', '/casper/filesystem.squashfs', join(tree, 'fs.squashfs')]);
    expect(sh('unsquashfs', ['-cat', join(tree, 'fs.squashfs'), 'etc/cached-step'])).toBe('changed-step\n');
  });

  it('a pre-customize hook that writes the version is run again for a new version (never served stale)', () => {
    const hook = join(dir, 'version-hook.sh');
    writeFileSync(hook, 'echo "$ISO_BUILD_VERSION" > /etc/version-from-hook\n');
    writeFileSync(
      profile,
      `name: cache-test\nbase:\n  path: ${join(dir, 'base.iso')}\n  sha256: ${fixtureSha('single')}\nrootfs:\n  compression: gzip\n` +
        `hooks:\n  pre-customize:\n    - ${hook}\n`,
    );
    const read = (iso: string, name: string): string => {
      const tree = join(dir, `tree-hook-${name}`);
      sh('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/casper/filesystem.squashfs', join(tree, 'fs.squashfs')]);
      return sh('unsquashfs', ['-cat', join(tree, 'fs.squashfs'), 'etc/version-from-hook']);
    };
    const first = build('work-hook', 'out-hook-1', 'v2.0.0');
    expect(first.log).toMatch(/hook pre-customize #1/);
    expect(read(first.iso, '1')).toBe('v2.0.0\n');
    const second = build('work-hook', 'out-hook-2', 'v2.0.1');
    expect(second.log).toMatch(/hook pre-customize #1/);
    expect(read(second.iso, '2')).toBe('v2.0.1\n');
  });

  it('a base ISO changed after it was hashed is hashed again and refused', () => {
    const base = join(dir, 'base.iso');
    const fd = openSync(base, 'r+');
    writeSync(fd, Buffer.from('X'), 0, 1, 40_000); // same size, one byte different
    closeSync(fd);
    const res = runCli(['v1.0.0', '--profile', profile, '--work', join(dir, 'work'), '--output', join(dir, 'out-changed')], { env });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/base\.iso has sha256 \w+, expected/);
  });
});
