/**
 * The release workflow's own scripts: scripts/release-preflight refuses the lab default password (issue 15 item 3),
 * and scripts/publish-assets publishes an asset over the size limit in parts that join back to the file SHA256SUMS
 * lists (the limit made small here: the real one is GitHub's 2 GiB). Real split/cat/sha256sum, no build.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireTools } from '../support/needs.js';
import { writeProfile } from '../support/profile.js';

const dirs: string[] = [];
const scratch = (p: string): string => {
  const d = tempDir(p);
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = REPO): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const envWithout = (name: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env = { ...process.env, ...extra };
  delete env[name];
  return env;
};

describe('scripts/release-preflight', needs(requireFixtures(), requireTools('openssl')), () => {
  const preflight = join(REPO, 'scripts/release-preflight');
  it('fails with a hint when neither NOVASPHERE_ADMIN_HASH nor an SSH key is given', () => {
    const r = run(preflight, ['profiles/fixture.yaml'], envWithout('NOVASPHERE_ADMIN_HASH'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/must not ship the lab default password/);
    expect(r.stderr).toMatch(/^hint: set the repository secret NOVASPHERE_ADMIN_HASH .*openssl passwd -6.*autoinstall\.sshKeys/m);
    expect(r.stdout).toBe('');
  });

  it('accepts NOVASPHERE_ADMIN_HASH, and refuses one that is not a crypt hash', () => {
    expect(run(preflight, ['profiles/fixture.yaml'], { ...process.env, NOVASPHERE_ADMIN_HASH: '$6$salt$abc' }).code).toBe(0);
    expect(run(preflight, ['profiles/fixture.yaml'], { ...process.env, NOVASPHERE_ADMIN_HASH: 'secret' }).code).toBe(2);
  });

  it('with SSH keys and no hash: a random password hash nobody knows, for $GITHUB_ENV', () => {
    const dir = scratch('preflight');
    const profile = writeProfile(dir, 'keys', { extends: join(REPO, 'profiles/fixture.yaml'), autoinstall: { userData: join(REPO, 'profiles/templates/user-data.yaml.hbs'), sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvH0n test@example'] } });
    const a = run(preflight, [profile], envWithout('NOVASPHERE_ADMIN_HASH'));
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/^NOVASPHERE_ADMIN_HASH=\$6\$[^\n]+\n$/);
    expect(a.stderr).toMatch(/login with the profile's 1 SSH key/);
    const b = run(preflight, [profile], envWithout('NOVASPHERE_ADMIN_HASH'));
    expect(b.stdout).not.toBe(a.stdout); // random each time
  });
});

describe('scripts/publish-assets: an asset over the limit is published in parts', needs(requireTools('split', 'sha256sum')), () => {
  it('splits it, lists the parts, writes the join note, and the joined file passes SHA256SUMS', () => {
    const dir = scratch('publish-split');
    const rel = join(dir, 'release-x');
    mkdirSync(rel);
    writeFileSync(join(rel, 'x-v1.iso'), randomBytes(5000));
    writeFileSync(join(rel, 'build-manifest.json'), '{}\n');
    const sums = run('sha256sum', ['x-v1.iso', 'build-manifest.json'], process.env, rel).stdout;
    writeFileSync(join(rel, 'SHA256SUMS'), sums);
    writeFileSync(join(rel, 'x.lock.yaml'), 'images: []\n'); // added by release.yml after the build: published too
    const notes = join(dir, 'notes.md');
    const out = join(dir, 'assets');
    const r = run(join(REPO, 'scripts/publish-assets'), ['--notes', notes, out, rel],
      envWithout('ISO_BUILD_GPG_KEY', { PUBLISH_MAX_ASSET_BYTES: '2048', PUBLISH_PART_SIZE: '2000' }));
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['SHA256SUMS', 'x-v1-build-manifest.json', 'x-v1-x.lock.yaml', 'x-v1.iso.part01', 'x-v1.iso.part02', 'x-v1.iso.part03', 'x-v1.iso.parts.sha256']);
    for (const f of readdirSync(out)) expect(statSync(join(out, f)).size).toBeLessThanOrEqual(2048);
    expect(readFileSync(notes, 'utf8')).toMatch(/cat x-v1\.iso\.part\* > x-v1\.iso/);
    expect(run('sha256sum', ['-c', 'x-v1.iso.parts.sha256'], process.env, out).code).toBe(0);
    writeFileSync(join(out, 'x-v1.iso'), Buffer.concat(['01', '02', '03'].map((n) => readFileSync(join(out, `x-v1.iso.part${n}`)))));
    const check = run('sha256sum', ['-c', '--ignore-missing', 'SHA256SUMS'], process.env, out);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/^x-v1\.iso: OK$/m);
    expect(check.stdout).toMatch(/^x-v1-x\.lock\.yaml: OK$/m);
  });

  it('fails when an asset is still over the limit (a part size above it)', () => {
    const dir = scratch('publish-toobig');
    const rel = join(dir, 'release-y');
    mkdirSync(rel);
    writeFileSync(join(rel, 'y-v1.iso'), randomBytes(5000));
    writeFileSync(join(rel, 'SHA256SUMS'), run('sha256sum', ['y-v1.iso'], process.env, rel).stdout);
    const r = run(join(REPO, 'scripts/publish-assets'), [join(dir, 'assets'), rel],
      envWithout('ISO_BUILD_GPG_KEY', { PUBLISH_MAX_ASSET_BYTES: '2048', PUBLISH_PART_SIZE: '4000' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/y-v1\.iso\.part01 is 4000 bytes, over the 2048-byte asset limit/);
  });
});
