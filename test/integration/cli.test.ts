/**
 * The CLI as scripts and shells use it: the result on stdout (JSON with --json), progress and warnings on stderr,
 * ASCII under a non-UTF-8 locale, no color under NO_COLOR, 143 for SIGTERM, a version-looking first word builds.
 * Shapes checked here are the ones docs/cli-json.md documents.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO, fixtureIso, fixtureSha, runCli, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';
import { fixtureProfile, writeProfile } from '../support/profile.js';

const ESC = '\u001b';
const NON_ASCII = /[^\x00-\x7f]/;

describe('a version-looking first word goes to the build', () => {
  it.each(['v1.0.0', 'v1.2.0-rc.1', '20261122'])('%s', (version) => {
    const res = runCli([version, '--profile', '/nonexistent/profile.yaml']);
    expect(res.code).toBe(2);
    expect(res.stderr).not.toMatch(/unknown command|not a release version/);
    expect(res.stderr).toMatch(/^error: .*\/nonexistent\/profile\.yaml/m);
  });
});

describe('build, verify and profile validate for scripts', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  let build: ReturnType<typeof runCli>;
  const env = { LC_ALL: 'C', NO_COLOR: '1', SOURCE_DATE_EPOCH: '1700000000' };
  beforeAll(() => {
    dir = tempDir('cli');
    build = runCli(['v1.0.0', '--profile', 'profiles/fixture.yaml', '--base', fixtureIso('single'), '--base-sha256', fixtureSha('single'), '--output', join(dir, 'rel'), '--work', join(dir, 'work'), '--json'], { env });
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('build --json: the result alone on stdout, progress on stderr in ASCII without color', () => {
    expect(build.stderr).not.toMatch(/^error/m);
    expect(build.code).toBe(0);
    const r = JSON.parse(build.stdout) as Record<string, unknown> & { stages: { title: string; seconds: number }[]; warnings: string[]; artifacts: string[] };
    const iso = join(dir, 'rel', 'novasphere-fixture-v1.0.0.iso');
    expect(r).toMatchObject({ version: 'v1.0.0', profile: join(REPO, 'profiles/fixture.yaml'), iso, outputDir: join(dir, 'rel'), log: join(dir, 'work', 'build.log') });
    expect(r.sha256).toBe(execFileSync('sha256sum', [iso], { encoding: 'utf8' }).split(' ')[0]);
    expect(r.bytes).toBe(readFileSync(iso).length);
    expect(r.artifacts).toEqual(['RELEASE-NOTES.md', 'SHA256SUMS', 'build-manifest.json', 'novasphere-fixture-v1.0.0.iso', 'report.html'].map((f) => join(dir, 'rel', f)));
    expect(r.stages.map((s) => s.title)).toEqual(expect.arrayContaining(['Verify base ISO', 'Unpack rootfs', 'Write the ISO over the base', 'Write release artifacts']));
    expect(r.stages.every((s) => s.seconds >= 0)).toBe(true);
    expect(r.warnings).toEqual([expect.stringMatching(/^warning: SHA256SUMS is not signed/)]);
    expect(typeof r.seconds).toBe('number');
    // progress and the warning on stderr, ASCII and uncolored
    expect(build.stderr).toMatch(/^OK Verify base ISO/m);
    expect(build.stderr).toMatch(/^warning: SHA256SUMS is not signed/m);
    expect(build.stderr).not.toMatch(NON_ASCII);
    expect(build.stderr).not.toContain(ESC);
  });

  it('verify --json lists each check; a failed one ends the list (exit 3)', () => {
    const iso = join(dir, 'rel', 'novasphere-fixture-v1.0.0.iso');
    const res = runCli(['verify', iso, '--json'], { env });
    expect(res.code).toBe(0);
    const r = JSON.parse(res.stdout) as { iso: string; ok: boolean; checks: { check: string; ok: boolean; detail: string }[] };
    expect(r.ok).toBe(true);
    expect(r.iso).toBe(iso);
    expect(r.checks.map((c) => [c.check, c.ok])).toEqual([['sha256', true], ['md5sum', true], ['boot', true], ['version', true]]);
    expect(r.checks[0]!.detail).toContain(JSON.parse(build.stdout).sha256 as string);
    expect(res.stderr).toMatch(/^warning: signature: none/m);
    const human = runCli(['verify', iso], { env });
    expect(human.stdout).toMatch(/^OK sha256: /m);
    expect(human.stdout).not.toMatch(NON_ASCII);
    const failed = runCli(['verify', iso, '--json', '--expect-version', 'v9.9.9'], { env });
    expect(failed.code).toBe(3);
    const f = JSON.parse(failed.stdout) as typeof r;
    expect(f.ok).toBe(false);
    expect(f.checks.at(-1)).toMatchObject({ check: 'version', ok: false, detail: expect.stringMatching(/expected "v9\.9\.9"/) });
    expect(failed.stderr).toMatch(/^error: VERSION: /m);
  });

  it('profile validate --json', () => {
    const res = runCli(['profile', 'validate', 'profiles/fixture.yaml', '--json', '--build-version', 'v2.0.0']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ profile: join(REPO, 'profiles/fixture.yaml'), ok: true, version: 'v2.0.0', output: 'novasphere-fixture-v2.0.0.iso', hooks: expect.any(Number) });
  });

  it('--quiet leaves the result and the warnings', () => {
    const res = runCli(['--quiet', 'v1.0.0', '--profile', 'profiles/fixture.yaml', '--output', join(dir, 'rel-quiet'), '--work', join(dir, 'work')], { env });
    expect(res.code).toBe(0);
    expect(res.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^warning: SHA256SUMS is not signed/)]);
    expect(res.stdout).toMatch(/^\/.*novasphere-fixture-v1\.0\.0\.iso\n {2}sha256 [0-9a-f]{64}\n/);
  }, 300_000);

  it('SIGTERM stops the build with exit code 143, SIGINT 130', async () => {
    const profile = writeProfile(dir, 'term', fixtureProfile('term', { chroot: { commands: ['sleep 4343'] } }));
    for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
      const work = join(dir, `work-${signal}`);
      const res = await new Promise<{ code: number | null; stderr: string }>((done) => {
        const child = spawn('node', [CLI, 'v1.0.0', '--profile', profile, '--output', join(dir, `out-${signal}`), '--work', work], { cwd: REPO, env: { ...process.env, CI: 'true' } });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const poll = setInterval(() => {
          if (existsSync(join(work, 'build.log')) && readFileSync(join(work, 'build.log'), 'utf8').includes('sleep 4343')) {
            clearInterval(poll);
            child.kill(signal);
          }
        }, 100);
        child.on('exit', (c) => {
          clearInterval(poll);
          done({ code: c, stderr });
        });
      });
      expect(res.code).toBe(code);
      expect(res.stderr).toMatch(new RegExp(`^error: ${signal}: build stopped`, 'm'));
    }
  }, 300_000);
});

