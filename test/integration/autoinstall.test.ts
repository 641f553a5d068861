/**
 * The default fixture build carries the autoinstall: the GRUB menus get a first entry with the nocloud kernel
 * arguments (the original entries after it), /nocloud/user-data read back from the ISO is the rendered template,
 * and md5sum.txt still checks. `profile validate` refuses bad templates naming the template and the line.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderAutoinstall } from '../../src/profile/autoinstall.js';
import { loadProfile } from '../../src/profile/load.js';
import { REPO, runCli, sh, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';
import { writeProfile } from '../support/profile.js';

const VERSION = 'v1.0.0';

function menuEntries(cfg: string): { title: string; linux: string }[] {
  return [...cfg.matchAll(/menuentry "(.*?)" \{\n([\s\S]*?)\n\}/g)].map((m) => ({ title: m[1]!, linux: /^\s*linux\s+(.*)$/m.exec(m[2]!)?.[1] ?? '' }));
}

describe('fixture build with autoinstall and boot menu', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  let tree: string;
  let result: ReturnType<typeof runCli>;

  beforeAll(() => {
    dir = tempDir('autoinstall');
    const out = join(dir, 'release');
    result = runCli([VERSION, '--profile', 'profiles/fixture.yaml', '--output', out, '--work', join(dir, 'work')], {
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    });
    tree = join(dir, 'readback');
    if (result.code === 0) sh('xorriso', ['-osirrox', 'on', '-indev', join(out, `novasphere-fixture-${VERSION}.iso`), '-extract', '/', tree]);
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds', () => {
    expect(result.stderr).not.toMatch(/^(error|internal error)/m);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/Write autoinstall: \/nocloud\/user-data, meta-data/);
    expect(result.stderr).toMatch(/Edit the boot menu: boot\/grub\/grub\.cfg, boot\/grub\/loopback\.cfg/);
  });

  it.each(['grub.cfg', 'loopback.cfg'])('boot/grub/%s: the autoinstall entry first, with the kernel args; the originals after it', (name) => {
    const cfg = readFileSync(join(tree, 'boot/grub', name), 'utf8');
    const entries = menuEntries(cfg);
    expect(entries.map((e) => e.title)).toEqual([
      `Install NovaSphere Fixture ${VERSION} (automatic)`,
      'Try or Install NovaSphere Fixture',
      'NovaSphere Fixture (debug shell, no poweroff)',
    ]);
    expect(entries[0]!.linux).toMatch(/^\/casper\/vmlinuz .*console=ttyS0,115200 panic=5 iso-build\.profile=novasphere-fixture autoinstall ds=nocloud\\;s=\/cdrom\/nocloud\/ ---$/);
    for (const e of entries.slice(1)) {
      expect(e.linux).toMatch(/ iso-build\.profile=novasphere-fixture ---$/);
      expect(e.linux).not.toContain('autoinstall');
    }
    expect(cfg).toMatch(/^set timeout=1$/m);
    expect(cfg).toMatch(/^set default=0$/m);
  });

  it('/nocloud/user-data and meta-data read back from the ISO are the rendered templates', async () => {
    const profile = await loadProfile(join(REPO, 'profiles/fixture.yaml'));
    const rendered = renderAutoinstall(profile, VERSION);
    expect(readFileSync(join(tree, 'nocloud/user-data'), 'utf8')).toBe(rendered.userData);
    expect(readFileSync(join(tree, 'nocloud/meta-data'), 'utf8')).toBe(rendered.metaData);
    expect(rendered.userData).toContain('hostname: "novasphere-fixture"');
  });

  it('md5sum.txt checks and lists the new and edited files', () => {
    const check = sh('md5sum', ['-c', 'md5sum.txt'], tree);
    expect(check).not.toMatch(/FAILED/);
    for (const f of ['nocloud/user-data', 'nocloud/meta-data', 'boot/grub/grub.cfg', 'boot/grub/loopback.cfg']) expect(check).toContain(`./${f}: OK`);
    sh('chmod', ['-R', 'u+w', tree]);
  });
});

describe('profile validate refuses bad autoinstall templates', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('validate');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function profileWith(template: string): string {
    const good = readFileSync(join(REPO, 'profiles/templates/user-data.yaml.hbs'), 'utf8');
    writeFileSync(join(dir, 'user-data.yaml.hbs'), template === 'good' ? good : good.replace('  packages: {{json packages}}', template));
    return writeProfile(dir, 'profile', {
      extends: join(REPO, 'profiles/fixture.yaml'),
      name: 'validate',
      autoinstall: { userData: 'user-data.yaml.hbs', packages: ['nginx', 'jq'] },
    });
  }

  it('accepts the shipped template', () => {
    const res = runCli(['profile', 'validate', profileWith('good'), '--build-version', 'v3.1.4']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/profile\.yaml: OK \(output validate-v3\.1\.4\.iso; autoinstall user-data .*; boot menu "Install NovaSphere Fixture v3\.1\.4 \(automatic\)"/);
  });

  it('warns about a typo in a section name (subiquity ignores unknown top-level keys), naming the template and the rendered line', () => {
    const res = runCli(['profile', 'validate', profileWith('  pakages: {{json packages}}'), '--json']);
    expect(res.code).toBe(0);
    const warning = /^warning: .*user-data\.yaml\.hbs: rendered line 26: unknown key "pakages" at autoinstall: subiquity \(autoinstall version 1\) ignores it \(did you mean "packages"\?\)$/m;
    expect(res.stderr).toMatch(warning);
    expect((JSON.parse(res.stdout) as { autoinstall: { warnings: string[] } }).autoinstall.warnings).toEqual([expect.stringContaining('unknown key "pakages"')]);
  });

  it('refuses a string where a list is expected', () => {
    const res = runCli(['profile', 'validate', profileWith('  packages: {{#each packages}}{{this}} {{/each}}')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^error: .*user-data\.yaml\.hbs: rendered line 26: autoinstall\.packages: expected a list, got "nginx jq"$/m);
  });

  it('profile show prints the resolved profile', () => {
    const res = runCli(['profile', 'show', profileWith('good')]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^name: validate$/m);
    expect(res.stdout).toMatch(/^  packages:\n    - nginx\n    - jq$/m);
    expect(res.stdout).toContain(`userData: ${join(dir, 'user-data.yaml.hbs')}`);
    expect(res.stdout).not.toMatch(/^extends:/m);
  });
});
