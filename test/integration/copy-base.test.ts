/**
 * The copy of the base ISO started ahead of the in-place write (stages/copy-base.ts), on the layered fixture: a build
 * that uses it writes the ISO its SHA256SUMS names (sha256sum -c), read back whole by xorriso; a build that fails
 * after the copy began leaves no *.partial (the cleanup waits for the copy), no ISO and no mount; with
 * ISO_BUILD_ISO_WRITER=xorriso nothing is copied ahead.
 */
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, findmntUnder, fixtureIso, runCli, sh, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';
import { fixtureProfile, writeProfile } from '../support/profile.js';

const COPY_LINE = /^copy: the base ISO is being copied to /m;

describe('the base ISO copied ahead of the in-place write', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  const layered = (name: string, extra: Parameters<typeof fixtureProfile>[1] = {}): string =>
    writeProfile(dir, name, fixtureProfile(name, { base: { path: fixtureIso('layered'), sha256sums: join(FIXTURES, 'SHA256SUMS') }, rootfs: { compression: 'gzip', strategy: 'layer' }, ...extra }));
  const build = (profile: string, tag: string, env: Record<string, string> = {}) => {
    const out = join(dir, `out-${tag}`);
    const work = join(dir, `work-${tag}`);
    const res = runCli(['v1.0.0', '--profile', profile, '--output', out, '--work', work], { env: { SOURCE_DATE_EPOCH: '1700000000', ...env } });
    return { ...res, out, log: readFileSync(join(work, 'build.log'), 'utf8') };
  };

  beforeAll(() => {
    dir = tempDir('copy-base');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is used by a layer build, whose ISO matches SHA256SUMS and reads back whole (xorriso, md5sum -c)', () => {
    const ahead = build(layered('copy-ahead'), 'ahead');
    expect(ahead.stderr).not.toMatch(/^(error|internal error)/m);
    expect(ahead.code).toBe(0);
    expect(ahead.log).toMatch(COPY_LINE);
    expect(ahead.log).toMatch(/^write: in place over the base ISO/m);
    // The sha256 was taken while the kernel copy ran: it must be the file's.
    expect(sh('sha256sum', ['-c', 'SHA256SUMS'], ahead.out)).toContain('copy-ahead-v1.0.0.iso: OK');
    const tree = join(dir, 'readback');
    sh('xorriso', ['-osirrox', 'on', '-indev', join(ahead.out, 'copy-ahead-v1.0.0.iso'), '-extract', '/', tree]);
    expect(sh('md5sum', ['-c', 'md5sum.txt'], tree)).not.toMatch(/FAILED/);
    sh('chmod', ['-R', 'u+w', tree]);
  });

  it('leaves nothing at the output when the build fails after the copy began', () => {
    const hook = join(dir, 'fail.sh');
    writeFileSync(hook, '#!/bin/sh\nexit 3\n');
    chmodSync(hook, 0o755);
    const failed = build(layered('copy-fail', { hooks: { 'post-customize': ['fail.sh'] } }), 'fail');
    expect(failed.code).not.toBe(0);
    expect(failed.log).toMatch(COPY_LINE);
    expect(existsSync(join(dir, 'out-fail')) ? readdirSync(join(dir, 'out-fail')) : []).toEqual([]);
    expect(findmntUnder(dir)).toEqual([]);
  });

  it('is not started when ISO_BUILD_ISO_WRITER=xorriso', () => {
    const res = build(layered('copy-xorriso'), 'xorriso', { ISO_BUILD_ISO_WRITER: 'xorriso' });
    expect(res.code).toBe(0);
    expect(res.log).not.toMatch(COPY_LINE);
    expect(res.log).toMatch(/^write: xorriso modify mode/m);
    expect(sh('sha256sum', ['-c', 'SHA256SUMS'], res.out)).toContain(': OK');
  });
});
