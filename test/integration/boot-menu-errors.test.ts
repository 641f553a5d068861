/**
 * A base ISO whose boot menu the model cannot read: the build stops at "Edit the boot menu" with the file and line,
 * the `bootMenu: false` hint and exit 2 (no internal error, no stack trace, nothing published); with
 * `bootMenu: false` in the profile the same ISO builds and its menu is byte for byte the base's.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, fixtureIso, runCli, sh, sha256, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';
import { fixtureProfile, writeProfile } from '../support/profile.js';

const VERSION = 'v1.0.0';
const BROKEN = 'set timeout=1\nmenuentry "Try or Install" {\n\tlinux\t/casper/vmlinuz ---\n\tinitrd\t/casper/initrd\nif true; then\n}\n';

describe('a base ISO with a boot menu the model does not understand', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  let base: string;

  beforeAll(() => {
    dir = tempDir('boot-menu-errors');
    const cfg = join(dir, 'grub.cfg');
    writeFileSync(cfg, BROKEN);
    base = join(dir, 'broken-menu.iso');
    sh('xorriso', ['-indev', fixtureIso('single'), '-outdev', base, '-boot_image', 'any', 'replay', '-map', cfg, '/boot/grub/grub.cfg', '-commit']);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fails with the file and line, the bootMenu: false hint and exit 2', () => {
    const res = runCli([VERSION, '--profile', 'profiles/fixture.yaml', '--base', base, '--base-sha256', sha256(base), '--output', join(dir, 'release'), '--work', join(dir, 'work')]);
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toMatch(/^error: boot\/grub\/grub\.cfg:6: "}" closes a block opened as "if" on line 5$/m);
    expect(res.stderr).toMatch(/^hint: set `bootMenu: false` in the profile/m);
    expect(res.stderr).not.toMatch(/internal error|this is a bug|\n\s+at /);
  }, 300_000);

  it('builds with bootMenu: false and leaves the menu as it is', () => {
    // autoinstall asks for a menu entry; bootMenu: false says to leave the menus alone
    const profile = writeProfile(
      dir,
      'novasphere-fixture',
      fixtureProfile('novasphere-fixture', { autoinstall: { userData: join(REPO, 'profiles/templates/user-data.yaml.hbs') }, bootMenu: false }),
    );
    const out = join(dir, 'release-off');
    const res = runCli([VERSION, '--profile', profile, '--base', base, '--base-sha256', sha256(base), '--output', out, '--work', join(dir, 'work-off')]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/Edit the boot menu \[SKIPPED: bootMenu: false in the profile\]/);
    const back = join(dir, 'grub.cfg.back');
    sh('xorriso', ['-osirrox', 'on', '-indev', join(out, `novasphere-fixture-${VERSION}.iso`), '-extract', '/boot/grub/grub.cfg', back]);
    expect(readFileSync(back, 'utf8')).toBe(BROKEN);
  }, 300_000);
});
