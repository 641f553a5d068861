/** The required-programs check: a PATH lookup before any work, naming the Debian package of what is missing (exit 2). */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitCode, IsoBuildError } from '../../src/errors.js';
import { requiredPrograms } from '../../src/pipeline/build-pipeline.js';
import { loadProfile } from '../../src/profile/load.js';
import { PROGRAMS, checkPrograms, findOnPath } from '../../src/tools/programs.js';

const dir = mkdtempSync(join(tmpdir(), 'iso-build-programs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checkPrograms', () => {
  it('finds an executable on PATH, not a plain file', () => {
    writeFileSync(join(dir, 'tool'), '#!/bin/sh\n');
    writeFileSync(join(dir, 'data'), '');
    chmodSync(join(dir, 'tool'), 0o755);
    expect(findOnPath('tool', `/nonexistent:${dir}`)).toBe(join(dir, 'tool'));
    expect(findOnPath('data', dir)).toBeUndefined();
  });

  it('fails with exit 2 naming every missing program and the packages to install', () => {
    let error: unknown;
    try {
      checkPrograms([...PROGRAMS.xorriso, ...PROGRAMS.squashfs], dir);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(IsoBuildError);
    const e = error as IsoBuildError;
    expect(e.exitCode).toBe(ExitCode.Usage);
    expect(e.message).toBe('missing programs: chmod, mksquashfs, unsquashfs, xorriso');
    expect(e.hint).toBe('apt-get install coreutils squashfs-tools xorriso');
  });

  it('passes when everything is there', () => {
    expect(() => checkPrograms([{ name: 'tool', debianPackage: 'x' }], dir)).not.toThrow();
  });
});

describe('requiredPrograms', () => {
  it('follows the profile: the chroot tools for chroot commands, apt and gpg for a payload', async () => {
    const fixture = await loadProfile('profiles/fixture.yaml', { basePath: 'x.iso', baseSha256: 'a'.repeat(64) });
    const names = (p: typeof fixture, opts = {}): string[] => [...new Set(requiredPrograms(p, { signing: false, ...opts }).map((x) => x.name))].sort();
    expect(names(fixture)).toEqual(expect.arrayContaining(['xorriso', 'mksquashfs', 'unsquashfs', 'openssl', 'nsenter', 'apt-get', 'gpg', 'dpkg-query']));
    const bare = { ...fixture, packages: undefined, chroot: { commands: [], env: {} } };
    expect(names(bare)).not.toContain('apt-get');
    expect(names(bare)).not.toContain('nsenter');
    expect(names(bare, { signing: true })).toContain('gpg');
    expect(names(bare, { checkReproducible: true })).toContain('sqfs2tar');
  });
});
