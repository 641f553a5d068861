/**
 * Hooks at the four points: in-chroot ones see the rootfs as /, host ones get the documented paths, all output
 * lands in the build log; a hook that exits 3 fails the build naming it, with no mounts and no ISO left.
 */
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findmntUnder, runCli, sh, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';
import { fixtureProfile, writeProfile, type ProfileDocument } from '../support/profile.js';

function script(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\nset -e\n${body}\n`);
  chmodSync(file, 0o755);
  return name;
}

type Hooks = NonNullable<ProfileDocument['hooks']>;

function profile(dir: string, name: string, hooks: Hooks): string {
  return writeProfile(dir, name, fixtureProfile(name, { hooks }));
}

/** `line:column` of the first occurrence of `text` in `file`, as the profile errors print it. */
function positionOf(file: string, text: string): string {
  const lines = readFileSync(file, 'utf8').split('\n');
  const line = lines.findIndex((l) => l.includes(text));
  return `${line + 1}:${lines[line]!.indexOf(text) + 1}`;
}

describe('build hooks', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('hooks');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every hook at its point with the documented environment and logs its output', () => {
    const record = join(dir, 'host-record');
    script(dir, 'pre-customize.sh', 'echo "pre-customize in chroot: $(cat /etc/debian_version) rootfs=$ISO_BUILD_ROOTFS" > /etc/hook-pre\necho HOOK-OUTPUT-PRE');
    script(dir, 'post-customize.sh', 'test -e /etc/novasphere/overlay-marker\necho "post $ISO_BUILD_HOOK $ISO_BUILD_VERSION $ISO_BUILD_PROFILE" > /etc/hook-post');
    script(dir, 'pre-repack.sh', `echo "pre-repack $ISO_BUILD_VERSION $ISO_BUILD_ROOTFS $ISO_BUILD_ISO_TREE" >> ${record}\ncat "$ISO_BUILD_ROOTFS/etc/hook-post" >> ${record}\necho marker > "$ISO_BUILD_ISO_TREE/hook-marker.txt"`);
    writeFileSync(join(dir, 'post-build.sh'), `echo "post-build $ISO_BUILD_OUTPUT_ISO" >> ${record}\ntest -f "$ISO_BUILD_OUTPUT_ISO"\n`); // not executable: run with sh
    const file = profile(dir, 'hooks-ok', {
      'pre-customize': ['pre-customize.sh'],
      'post-customize': ['post-customize.sh'],
      'pre-repack': ['pre-repack.sh'],
      'post-build': ['post-build.sh'],
    });
    const work = join(dir, 'work-ok');
    const out = join(dir, 'out-ok');
    const res = runCli(['v1.0.0', '--profile', file, '--output', out, '--work', work, '--keep-work']);
    expect(res.stderr).not.toMatch(/^(error|internal error)/m);
    expect(res.code).toBe(0);
    const iso = join(out, 'hooks-ok-v1.0.0.iso');
    const lines = readFileSync(record, 'utf8').trim().split('\n');
    // After the stage-cache point the rootfs is the overlay mounted over the cached layer.
    expect(lines[0]).toBe(`pre-repack v1.0.0 ${join(work, 'merged')} ${join(work, 'iso')}`);
    expect(lines[1]).toBe('post post-customize v1.0.0 hooks-ok');
    expect(lines[2]).toBe(`post-build ${iso}`);
    const sqfs = join(work, 'iso/casper/filesystem.squashfs');
    expect(sh('unsquashfs', ['-cat', sqfs, 'etc/hook-pre'])).toMatch(/^pre-customize in chroot: 12\.\d+ rootfs=\/$/m);
    expect(sh('unsquashfs', ['-lls', sqfs, 'tmp'])).not.toContain('iso-build-hooks');
    expect(sh('xorriso', ['-indev', iso, '-find', '/hook-marker.txt'])).toContain('hook-marker.txt');
    const log = readFileSync(join(work, 'build.log'), 'utf8');
    expect(log).toContain('HOOK-OUTPUT-PRE');
    expect(log).toMatch(/=== .* hook pre-repack #1 \(pre-repack\.sh\)/);
    expect(findmntUnder(work)).toEqual([]);
  });

  it.each([
    ['pre-repack', 'on the host'],
    ['post-customize', 'inside the chroot'],
  ])('a %s hook that exits 3 (%s) fails the build naming it, and leaves no mounts and no ISO', (point) => {
    const name = `fail-${point}`;
    script(dir, `${name}.sh`, 'echo "hook about to fail" >&2\nexit 3');
    const file = profile(dir, name, { [point]: [`${name}.sh`] });
    const work = join(dir, `work-${name}`);
    const out = join(dir, `out-${name}`);
    const res = runCli(['v1.0.0', '--profile', file, '--output', out, '--work', work]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(new RegExp(`^error: hook ${point} #1 \\(${name}\\.sh\\) failed \\(exit code 3\\): hook about to fail`, 'm'));
    expect(res.stderr).toContain(join(work, 'build.log'));
    expect(readFileSync(join(work, 'build.log'), 'utf8')).toContain('hook about to fail');
    expect(findmntUnder(work)).toEqual([]);
    expect(existsSync(out) ? readdirSync(out).filter((f) => f.includes('.iso')) : []).toEqual([]);
  });

  it('a missing hook script is a profile error', () => {
    const file = profile(dir, 'hook-missing', { 'pre-repack': ['nope.sh'] });
    const res = runCli(['v1.0.0', '--profile', file, '--output', join(dir, 'out-missing'), '--work', join(dir, 'work-missing')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(new RegExp(`^error: .*hook-missing\\.yaml:${positionOf(file, 'nope.sh')}: hooks\\["pre-repack"\\]\\[0\\]: file not found: .*nope\\.sh$`, 'm'));
  });
});
