/** `iso-build init DIR` scaffolds a profile directory that validates and builds as it is, on the fixture. */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findmntUnder, runCli, sh, tempDir } from '../support/cli.js';
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
});
