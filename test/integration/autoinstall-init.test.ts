/** `iso-build init DIR` scaffolds a profile directory that validates and builds as it is, on the fixture. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, findmntUnder, runCli, sh, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';

describe('iso-build init', () => {
  let dir: string;
  let target: string;
  beforeAll(() => {
    dir = tempDir('init');
    target = join(dir, 'My Appliance');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('scaffolds profile, templates, overlay and a hook', () => {
    const res = runCli(['init', target]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('profile validate');
    for (const f of ['profile.yaml', 'templates/user-data.yaml.hbs', 'templates/meta-data.yaml.hbs', 'overlay/rootfs/etc/my-appliance-release', 'hooks/post-customize.sh']) {
      expect(existsSync(join(target, f)), f).toBe(true);
    }
    expect(statSync(join(target, 'hooks/post-customize.sh')).mode & 0o111).not.toBe(0);
    expect(readFileSync(join(target, 'profile.yaml'), 'utf8')).toMatch(/^extends: .*profiles\/fixture\.yaml$/m);
  });

  it('refuses a non-empty directory', () => {
    const res = runCli(['init', target]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^error: .* exists and is not empty$/m);
  });

  it('validates, and show resolves it onto the fixture', () => {
    const profile = join(target, 'profile.yaml');
    const validate = runCli(['profile', 'validate', profile]);
    expect(validate.stderr).toBe('');
    expect(validate.code).toBe(0);
    const show = runCli(['profile', 'show', profile]);
    expect(show.stdout).toMatch(/^name: my-appliance$/m);
    expect(show.stdout).toContain(`userData: ${join(target, 'templates/user-data.yaml.hbs')}`);
    expect(show.stdout).toMatch(/^  lateCommands: \[\]$/m);
  });

  it('builds as it is', { ...needs(requireRoot(), requireFixtures()), timeout: 300_000 }, () => {
    const out = join(dir, 'release');
    const work = join(dir, 'work');
    const res = runCli(['v1.0.0', '--profile', join(target, 'profile.yaml'), '--output', out, '--work', work, '--keep-work']);
    expect(res.stderr).not.toMatch(/^(error|internal error)/m);
    expect(res.code).toBe(0);
    const sqfs = join(work, 'iso', 'casper/filesystem.squashfs');
    expect(sh('unsquashfs', ['-cat', sqfs, 'etc/iso-build-customized'])).toBe('customized for my-appliance v1.0.0\n');
    expect(sh('unsquashfs', ['-cat', sqfs, 'etc/my-appliance-release'])).toBe('my-appliance\n');
    expect(readFileSync(join(work, 'iso/nocloud/user-data'), 'utf8')).toContain('hostname: "my-appliance"');
    expect(findmntUnder(work)).toEqual([]);
  });

  it('scripts/setup put an iso-build on PATH (npm link: a symlink to a checkout\'s bin/iso-build.js)', () => {
    const found = execFileSync('sh', ['-c', 'command -v iso-build'], { encoding: 'utf8' }).trim();
    const target = realpathSync(found);
    expect(target).toMatch(/\/bin\/iso-build\.js$/);
    const pkg = JSON.parse(readFileSync(join(target, '../../package.json'), 'utf8')) as { name: string };
    expect(pkg.name).toBe('iso-build');
  });

  it('the commands init prints work exactly as printed', { ...needs(requireRoot(), requireFixtures()), timeout: 300_000 }, () => {
    // "iso-build" resolves on PATH as a shell resolves it; PATH starts with a directory whose iso-build is this
    // checkout's (what npm link makes), so the test runs the code under test even when another checkout is linked.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(CLI, join(bin, 'iso-build'));
    const cwd = join(dir, 'shell');
    mkdirSync(cwd);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, CI: 'true' };
    const shell = (line: string) => spawnSync('sh', ['-c', line], { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
    const init = shell('iso-build init appliance');
    expect(init.status).toBe(0);
    const printed = [...init.stdout.matchAll(/^(?:check|build) it: +(.+)$/gm)].map((m) => m[1]!);
    expect(printed).toEqual(['iso-build profile validate appliance/profile.yaml', 'iso-build v1.0.0 --profile appliance/profile.yaml']);
    const validate = shell(printed[0]!);
    expect(validate.stderr).toBe('');
    expect(validate.status).toBe(0);
    expect(validate.stdout).toMatch(/profile\.yaml: OK/);
    const build = shell(printed[1]!);
    expect(build.stderr).not.toMatch(/^(error|internal error)/m);
    expect(build.status).toBe(0);
    expect(existsSync(join(cwd, 'release/v1.0.0/appliance-v1.0.0.iso'))).toBe(true);
    expect(findmntUnder(cwd)).toEqual([]);
  });
});
