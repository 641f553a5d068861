/**
 * Failed and interrupted builds: no mount left under the work directory, no ISO at the output path,
 * a non-zero exit code, and a message that says what failed and where the log is.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findmntUnder, runCli, runCliAndInterrupt, sh, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';
import { fixtureProfile, writeProfile } from '../support/profile.js';

function profileWith(dir: string, name: string, opts: { commands: string[]; rootfs?: { compression: 'gzip' | 'xz' | 'zstd'; compressionLevel?: number } }): string {
  return writeProfile(dir, name, fixtureProfile(name, { rootfs: opts.rootfs ?? { compression: 'gzip' }, chroot: { commands: opts.commands } }));
}

function isoFilesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.includes('.iso')) : [];
}

function chrootSleepers(): string {
  try {
    return sh('pgrep', ['-af', 'sleep 4242']);
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
}

describe('failed and interrupted builds release everything', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('fail');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a failing chroot command fails the build, names the command and the log', () => {
    const profile = profileWith(dir, 'chroot-fails', { commands: ['echo preparing', 'echo about to fail >&2; exit 7'] });
    const work = join(dir, 'work-chroot');
    const out = join(dir, 'out-chroot');
    const res = runCli(['v1.0.0', '--profile', profile, '--output', out, '--work', work]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^error: chroot command 2 \(chroot\.commands\[1\].*exit code 7.*about to fail/m);
    expect(res.stderr).toContain(`hint: full output in ${join(work, 'build.log')}`);
    expect(res.stderr).not.toMatch(/^\s+at /m);
    expect(readFileSync(join(work, 'build.log'), 'utf8')).toContain('about to fail');
    expect(findmntUnder(work)).toEqual([]);
    expect(isoFilesIn(out)).toEqual([]);
    expect(existsSync(out)).toBe(false); // the release directory it created for this build is gone again
    // the rootfs got its own resolv.conf / policy-rc.d back
    expect(existsSync(join(work, 'rootfs/usr/sbin/policy-rc.d'))).toBe(false);
  });

  it('SIGINT during a chroot command stops it, unmounts and leaves no ISO', async () => {
    const profile = profileWith(dir, 'chroot-sigint', { commands: ['sleep 4242'] });
    const work = join(dir, 'work-sigint-chroot');
    const out = join(dir, 'out-sigint-chroot');
    const res = await runCliAndInterrupt(['v1.0.0', '--profile', profile, '--output', out, '--work', work], () =>
      chrootSleepers().includes('sleep 4242'),
    );
    expect(res.interrupted).toBe(true);
    expect(res.code).toBe(130);
    expect(res.stderr).toMatch(/^error: SIGINT: build stopped \(interrupted during chroot command 1/m);
    expect(res.stderr).toContain(join(work, 'build.log'));
    expect(findmntUnder(work)).toEqual([]);
    expect(isoFilesIn(out)).toEqual([]);
    expect(chrootSleepers()).toBe('');
  });

  it('SIGINT during mksquashfs stops it and leaves no ISO and no mounts', async () => {
    // Not the base's xz: that would merge into the base, and mksquashfs would pack only the (tiny) changes.
    const profile = profileWith(dir, 'mksquashfs-sigint', { commands: ['true'], rootfs: { compression: 'zstd', compressionLevel: 19 } });
    const work = join(dir, 'work-sigint-mksquashfs');
    const out = join(dir, 'out-sigint-mksquashfs');
    const log = join(work, 'build.log');
    const res = await runCliAndInterrupt(['v1.0.0', '--profile', profile, '--output', out, '--work', work], () =>
      existsSync(log) && /^\$ mksquashfs (?!.*packing-probe)/m.test(readFileSync(log, 'utf8')),
    );
    expect(res.interrupted).toBe(true);
    expect(res.code).toBe(130);
    expect(res.stderr).toMatch(/^error: SIGINT: build stopped \(interrupted during mksquashfs/m);
    expect(findmntUnder(work)).toEqual([]);
    expect(isoFilesIn(out)).toEqual([]);
    let running = '';
    try {
      running = sh('pgrep', ['-af', `mksquashfs ${work}`]);
    } catch {
      /* none */
    }
    expect(running).toBe('');
  });
});
