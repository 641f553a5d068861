/**
 * A base ISO that is not what it should be: the pinned sha256 is checked before any tool parses the file, a truncated
 * file (even by its last 2048 bytes) is one exit-2 line, and a directory, a symlink loop or a dangling symlink are named
 * as what they are. Each case: exit 2, `error:` + `hint:`, no stack trace, no xorriso output in the message.
 */
import { mkdirSync, rmSync, symlinkSync, truncateSync, copyFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureIso, fixtureSha, runCli, sha256, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';

function expectOneLine(res: ReturnType<typeof runCli>, message: RegExp): void {
  expect(res.code).toBe(2);
  const lines = res.stderr.trim().split('\n');
  const at = lines.findIndex((l) => l.startsWith('error: '));
  expect(at).toBeGreaterThanOrEqual(0);
  expect(lines[at]).toMatch(message);
  expect(lines[at]).not.toMatch(/xorriso|libisofs|libburn/);
  expect(lines.slice(at)[1] ?? '').toMatch(/^hint: /);
  expect(lines.slice(at).length).toBeLessThanOrEqual(2);
  expect(res.stderr).not.toMatch(/^\s+at /m);
}

describe('base ISO input checks', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  let truncated: string;
  beforeAll(() => {
    dir = tempDir('base');
    truncated = join(dir, 'short.iso');
    copyFileSync(fixtureIso('single'), truncated);
    truncateSync(truncated, statSync(truncated).size - 2048); // only the last sector missing
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const build = (base: string, sha: string, name: string): ReturnType<typeof runCli> =>
    runCli(['v1.0.0', '--profile', 'profiles/fixture.yaml', '--base', base, '--base-sha256', sha, '--output', join(dir, `out-${name}`), '--work', join(dir, `work-${name}`)]);

  it('a truncated base pinned by the full file\'s sha256 reports the hash mismatch, before any tool reads it', () => {
    const res = build(truncated, fixtureSha('single'), 'pinned');
    expectOneLine(res, /short\.iso has sha256 [0-9a-f]{64}, expected [0-9a-f]{64}/);
    expect(res.stderr).not.toMatch(/Extract ISO tree/); // the extraction never started
  });

  it('a base short of its last 2048 bytes, whose own sha256 is given, is refused as truncated', () => {
    const res = build(truncated, sha256(truncated), 'short');
    expectOneLine(res, /short\.iso is truncated: its volume is (\d+) bytes but the file has \d+ \(2048 missing\)/);
  });

  it('a directory, a symlink loop and a dangling symlink are named as such', () => {
    const asDir = join(dir, 'dir.iso');
    mkdirSync(asDir);
    expectOneLine(build(asDir, 'a'.repeat(64), 'dir'), /dir\.iso is a directory, not an ISO file/);
    const loop = join(dir, 'loop.iso');
    symlinkSync('loop2.iso', loop);
    symlinkSync('loop.iso', join(dir, 'loop2.iso'));
    expectOneLine(build(loop, 'a'.repeat(64), 'loop'), /loop\.iso is a symlink loop/);
    const dangling = join(dir, 'dangling.iso');
    symlinkSync('/nonexistent/base.iso', dangling);
    expectOneLine(build(dangling, 'a'.repeat(64), 'dangling'), /dangling\.iso is a symlink to \/nonexistent\/base\.iso, which does not exist/);
  });
});
