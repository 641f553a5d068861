/**
 * A build of a k3s profile writes the bring-up into the ISO's rootfs: read back from the built ISO with xorriso and
 * unsquashfs (independent tools), the unit is enabled, bringup.sh passes shellcheck, the HelmChart manifest's
 * chartContent is the exact chart .tgz and the k3s files are the profile's. The k3s "binary" is a small script:
 * only its bytes are compared.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runCli, sh, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot, requireTools } from '../support/needs.js';
import { fixtureProfile, writeProfile } from '../support/profile.js';

const VERSION = 'v1.5.0';
const CHART = join(REPO, 'test/fixtures/packages/hello-chart-0.1.0.tgz');
describe('build of a k3s profile with bringup', needs(requireRoot(), requireFixtures(), requireTools('xorriso', 'unsquashfs', 'shellcheck')), () => {
  let dir: string;
  let tree: string;
  let result: ReturnType<typeof runCli>;
  const cat = (path: string): Buffer =>
    Buffer.from(sh('unsquashfs', ['-cat', join(tree, 'casper/filesystem.squashfs'), path]), 'latin1');
  beforeAll(() => {
    dir = tempDir('bringup-build');
    writeFileSync(join(dir, 'k3s'), '#!/bin/sh\necho k3s test binary\n', { mode: 0o755 });
    writeFileSync(join(dir, 'k3s-install.sh'), '#!/bin/sh\necho upstream install script stand-in\n', { mode: 0o755 });
    const profile = writeProfile(
      dir,
      'bringup-build',
      fixtureProfile('bringup-build', {
        packages: {
          images: [{ archive: join(REPO, 'test/fixtures/packages/hello-image-oci.tar'), reference: 'registry.novasphere.invalid/test/hello:1.0' }],
          charts: [{ name: 'hello', version: '0.1.0', path: CHART }],
          installScript: join(REPO, 'profiles/templates/install.sh.hbs'),
        },
        bringup: {
          script: join(REPO, 'profiles/templates/bringup.sh.hbs'),
          k3s: { binary: join(dir, 'k3s'), installScript: join(dir, 'k3s-install.sh') },
          charts: [{ name: 'hello', values: { greeting: 'offline' } }],
        },
      }),
    );
    result = runCli([VERSION, '--profile', profile, '--output', join(dir, 'out'), '--work', join(dir, 'work')], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
    tree = join(dir, 'tree');
    if (result.code === 0) sh('xorriso', ['-osirrox', 'on', '-indev', join(dir, 'out', `bringup-build-${VERSION}.iso`), '-extract', '/casper', join(tree, 'casper')]);
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds', () => {
    expect(result.stderr).not.toMatch(/^(error|internal error)/m);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/First-boot bring-up: novasphere-bringup\.service, 1 images, k3s, 1 HelmChart manifests/);
  });

  it('the ISO rootfs has the enabled unit, the script (shellcheck-clean), k3s files and the HelmChart manifest', () => {
    const list = sh('unsquashfs', ['-lls', join(tree, 'casper/filesystem.squashfs'), 'etc/systemd/system/multi-user.target.wants']);
    expect(list).toMatch(/novasphere-bringup\.service -> \/usr\/lib\/systemd\/system\/novasphere-bringup\.service/);
    expect(cat('usr/lib/systemd/system/novasphere-bringup.service').toString()).toMatch(/^ExecStart=\/opt\/novasphere\/bringup\.sh$/m);
    const script = join(dir, 'bringup.sh');
    writeFileSync(script, cat('opt/novasphere/bringup.sh'));
    expect(sh('shellcheck', ['-s', 'sh', script])).toBe('');
    expect(cat('opt/novasphere/k3s/k3s')).toEqual(readFileSync(join(dir, 'k3s')));
    expect(cat('opt/novasphere/k3s/install.sh')).toEqual(readFileSync(join(dir, 'k3s-install.sh')));
    const manifest = parse(cat('var/lib/rancher/k3s/server/manifests/chart-hello.yaml').toString()) as { spec: { chartContent: string; valuesContent: string } };
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    expect(sha(Buffer.from(manifest.spec.chartContent, 'base64'))).toBe(sha(readFileSync(CHART)));
    expect(parse(manifest.spec.valuesContent)).toEqual({ greeting: 'offline' });
  });
});
