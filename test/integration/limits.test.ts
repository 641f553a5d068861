/**
 * Limits on the profile's own code: a chroot command or hook past its time limit (timeouts.*) is killed with its
 * process group and fails the build naming it; a daemon a post-build hook leaves (setsid: outside its process group)
 * is killed and reported. Read back with pgrep and findmnt, not with the code under test.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findmntUnder, runCli, sh, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';
import { fixtureProfile, writeProfile } from '../support/profile.js';

function running(pattern: string): string {
  try {
    return sh('pgrep', ['-af', pattern]).trim();
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
}

describe('time limits and leftovers of hooks and chroot commands', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('limits');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a chroot command past timeouts.chrootCommand is killed and fails the build naming it', () => {
    const profile = writeProfile(dir, 'chroot-hangs', fixtureProfile('chroot-hangs', { chroot: { commands: ['true', 'sleep 4343 & sleep 4343'] }, timeouts: { chrootCommand: 2 } }));
    const work = join(dir, 'work-chroot');
    const out = join(dir, 'out-chroot');
    const started = Date.now();
    const res = runCli(['v1.0.0', '--profile', profile, '--output', out, '--work', work]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^error: chroot command 2 \(chroot\.commands\[1\]: sleep 4343 & sleep 4343\) timed out after 2 s and was killed$/m);
    expect(res.stderr).toMatch(/^hint: the profile's timeouts\.chrootCommand is 2 s/m);
    expect(Date.now() - started).toBeLessThan(120_000);
    expect(running('sleep 4343')).toBe('');
    expect(findmntUnder(work)).toEqual([]);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });

  it('a host hook past timeouts.hook is killed; a daemon a post-build hook leaves is killed and reported', () => {
    writeFileSync(join(dir, 'hang.sh'), 'sleep 4344\n');
    // The hook waits until its child is in a session of its own (field 6 of /proc/PID/stat): exiting sooner would let
    // the end-of-hook group kill take the child before setsid() ran (seen on a loaded CI machine), so no daemon escapes.
    writeFileSync(
      join(dir, 'daemon.sh'),
      [
        'setsid sleep 4345 > /dev/null 2>&1 < /dev/null &',
        'd=$!; n=0',
        'while read -r _ _ _ _ _ sid _ < /proc/$d/stat && [ "$sid" != "$d" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done',
        'echo started',
        '',
      ].join('\n'),
    );
    const hanging = writeProfile(dir, 'hook-hangs', fixtureProfile('hook-hangs', { hooks: { 'pre-repack': ['hang.sh'] }, timeouts: { hook: 2 } }));
    const res = runCli(['v1.0.0', '--profile', hanging, '--output', join(dir, 'out-hang'), '--work', join(dir, 'work-hang')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^error: hook pre-repack #1 \(hang\.sh\) timed out after 2 s and was killed$/m);
    expect(running('sleep 4344')).toBe('');

    const daemon = writeProfile(dir, 'hook-daemon', fixtureProfile('hook-daemon', { hooks: { 'post-build': ['daemon.sh'] } }));
    const work = join(dir, 'work-daemon');
    const ok = runCli(['v1.0.0', '--profile', daemon, '--output', join(dir, 'out-daemon'), '--work', work]);
    expect(ok.stderr).toBe(ok.code === 0 ? ok.stderr : '<success expected>');
    expect(ok.code).toBe(0);
    expect(running('sleep 4345')).toBe('');
    expect(readFileSync(join(work, 'build.log'), 'utf8')).toMatch(/^warning: hook post-build #1 \(daemon\.sh\) left process \d+ (setsid )?sleep 4345 running: killed$/m);
  });
});
