/** A build whose PATH lacks a program it needs fails before any work, naming the Debian package (exit 2). */
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROGRAMS, findOnPath } from '../../src/tools/programs.js';
import { fixtureIso, fixtureSha, runCli, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';

describe('required programs', needs(requireRoot(), requireFixtures()), () => {
  const dir = tempDir('programs');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a missing xorriso fails the build up front with the apt-get hint, leaving no work directory', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    for (const p of Object.values(PROGRAMS).flat()) {
      const found = findOnPath(p.name);
      if (p.name !== 'xorriso' && found && !existsSync(join(bin, p.name))) symlinkSync(found, join(bin, p.name));
    }
    const work = join(dir, 'work');
    const res = runCli(
      ['v1.0.0', '--profile', 'profiles/fixture.yaml', '--base', fixtureIso('single'), '--base-sha256', fixtureSha('single'), '--work', work, '--output', join(dir, 'out')],
      { env: { PATH: bin } },
    );
    expect(res.stderr).toMatch(/^error: missing program: xorriso$/m);
    expect(res.stderr).toMatch(/^hint: apt-get install xorriso$/m);
    expect(res.code).toBe(2);
    expect(existsSync(work)).toBe(false);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });
});
