/**
 * The rootfs stages that need a prepared rootfs, each run on its own without the pipeline or listr2: the chroot hooks
 * (pre-customize / post-customize in a chroot session) and the offline payload (packages, then its verification),
 * on the single fixture's rootfs unpacked with unsquashfs (not by the build). What they produce is read back from the
 * files on disk with independent tools (gpgv, dpkg-deb, sha256sum); a broken payload must fail the verify stage.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildLog } from '../../src/build-log.js';
import { workPaths, type BuildInputs } from '../../src/context.js';
import { IsoBuildError } from '../../src/errors.js';
import { ResourceStack } from '../../src/lifecycle.js';
import { recordingReporter } from '../../src/pipeline/reporter.js';
import { PAYLOAD_DIR } from '../../src/product.js';
import { loadProfile } from '../../src/profile/load.js';
import { hooksStage } from '../../src/stages/hooks.js';
import { packagesStage, packagesVerifyStage } from '../../src/stages/packages.js';
import { REPO, findmntUnder, fixtureIso, sh, sha256, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot, requireTools } from '../support/needs.js';
import { fixtureProfile, writeProfile } from '../support/profile.js';

const PACKAGES = join(REPO, 'test/fixtures/packages');

describe('rootfs stages on a prepared rootfs', needs(requireRoot(), requireTools('xorriso', 'unsquashfs', 'gpg', 'gpgv', 'dpkg-deb'), requireFixtures()), () => {
  let dir: string;
  let rootfs: string;
  const resources = new ResourceStack();

  async function inputs(name: string, sections: Parameters<typeof fixtureProfile>[1]): Promise<BuildInputs> {
    const profile = await loadProfile(writeProfile(dir, name, fixtureProfile(name, sections)));
    const work = workPaths(join(dir, `work-${name}`));
    mkdirSync(work.tree, { recursive: true });
    return {
      profile,
      version: 'v5.1.0',
      epochSeconds: 1700000000,
      work,
      log: new BuildLog(work.log),
      resources,
      cacheDir: join(dir, 'cache'),
      outputDir: join(dir, 'release'),
      outputIso: join(dir, 'release', 'x.iso'),
      partialIso: join(dir, 'release', 'x.iso.partial'),
      childEnv: {},
      outputLock: { file: '', release: () => undefined }, // no other build shares these directories
    };
  }

  beforeAll(() => {
    dir = tempDir('stages-rootfs');
    sh('xorriso', ['-osirrox', 'on', '-indev', fixtureIso('single'), '-extract', '/casper/filesystem.squashfs', join(dir, 'fs.squashfs')]);
    rootfs = join(dir, 'rootfs');
    sh('unsquashfs', ['-q', '-no-progress', '-d', rootfs, join(dir, 'fs.squashfs')]);
  });
  afterAll(async () => {
    await resources.releaseAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('pre-customize and post-customize hooks run in the chroot, see the hook environment, and leave no mount', async () => {
    const hook = join(dir, 'in-chroot.sh');
    // /proc/1/root is / only where the process's root is the chroot; the hook writes what it saw into the rootfs.
    writeFileSync(hook, '#!/bin/sh\nset -e\n{ echo "$ISO_BUILD_HOOK $ISO_BUILD_VERSION $ISO_BUILD_ROOTFS"; cat /etc/debian_version; id -un; } >> /etc/hook-seen\n');
    chmodSync(hook, 0o755);
    const ctx = await inputs('hooks', { hooks: { 'pre-customize': [hook], 'post-customize': [hook] } });
    const pre = recordingReporter();
    await hooksStage(ctx, 'pre-customize', rootfs, pre);
    expect(pre.title).toBe('Run pre-customize hooks: 1 done');
    await hooksStage(ctx, 'post-customize', rootfs, recordingReporter());
    const debian = readFileSync(join(rootfs, 'etc/debian_version'), 'utf8');
    expect(readFileSync(join(rootfs, 'etc/hook-seen'), 'utf8')).toBe(`pre-customize v5.1.0 /\n${debian}root\npost-customize v5.1.0 /\n${debian}root\n`);
    // the host's /etc is untouched, the copied scripts are gone, the session's mounts are released
    expect(existsSync('/etc/hook-seen')).toBe(false);
    expect(existsSync(join(rootfs, 'tmp/iso-build-hooks'))).toBe(false);
    expect(findmntUnder(rootfs)).toEqual([]);
  });

  it('a failing chroot hook fails the stage naming the hook and its exit code, and still releases the session', async () => {
    const hook = join(dir, 'fails.sh');
    writeFileSync(hook, '#!/bin/sh\nexit 7\n');
    chmodSync(hook, 0o755);
    const ctx = await inputs('hook-fails', { hooks: { 'pre-customize': [hook] } });
    const err = await hooksStage(ctx, 'pre-customize', rootfs, recordingReporter()).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(IsoBuildError);
    expect((err as IsoBuildError).message).toMatch(/hook pre-customize #1 \(fails\.sh\).*7/);
    expect(findmntUnder(rootfs)).toEqual([]);
  });

  it('packages writes a signed, verifiable payload into the rootfs; packages verify passes it and fails a damaged one', async () => {
    const ctx = await inputs('payload', {
      packages: {
        architecture: 'amd64',
        installScript: join(REPO, 'profiles/templates/install.sh.hbs'),
        debs: [join(PACKAGES, 'novasphere-hello-offline_1.0.0_all.deb')],
        images: [{ archive: join(PACKAGES, 'hello-image-oci.tar'), reference: 'registry.novasphere.invalid/test/hello:1.0' }],
        charts: [{ name: 'hello', version: '0.1.0', path: join(PACKAGES, 'hello-chart-0.1.0.tgz') }],
        onIso: true,
      },
    });
    await packagesStage(ctx, rootfs, recordingReporter());
    const payload = join(rootfs, PAYLOAD_DIR);
    const system = join(payload, 'system');
    // the repository's Release is signed by the key it ships (read back with gpgv, not the build's gpg wrapper)
    sh('gpg', ['--batch', '--yes', '--dearmor', '-o', join(dir, 'payload-key.gpg'), join(system, 'signing-key.asc')]);
    sh('gpgv', ['--keyring', join(dir, 'payload-key.gpg'), join(system, 'Release.gpg'), join(system, 'Release')]);
    expect(readFileSync(join(system, 'Packages'), 'utf8')).toMatch(/^Package: novasphere-hello-offline$/m);
    expect(sh('dpkg-deb', ['-f', join(system, 'novasphere-hello-offline_1.0.0_all.deb'), 'Version'])).toBe('1.0.0\n');
    expect(sha256(join(payload, 'charts/hello-0.1.0.tgz'))).toBe(sha256(join(PACKAGES, 'hello-chart-0.1.0.tgz')));
    expect(readFileSync(join(payload, 'images/images.txt'), 'utf8')).toContain('registry.novasphere.invalid/test/hello:1.0 ');
    expect(existsSync(join(rootfs, 'opt/novasphere/install.sh'))).toBe(true);

    const verify = recordingReporter();
    await packagesVerifyStage(ctx, rootfs, verify);
    expect(verify.title).toContain(`${PAYLOAD_DIR} OK`);
    // onIso: copied from the verified payload into the ISO tree
    expect(sha256(join(ctx.work.tree, 'novasphere/packages/charts/hello-0.1.0.tgz'))).toBe(sha256(join(payload, 'charts/hello-0.1.0.tgz')));

    writeFileSync(join(payload, 'charts/hello-0.1.0.tgz'), 'not a chart');
    const err = await packagesVerifyStage(ctx, rootfs, recordingReporter()).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(IsoBuildError);
    expect((err as IsoBuildError).exitCode).toBe(3);
    expect((err as IsoBuildError).message).toMatch(/package payload failed verification: .*hello-0\.1\.0\.tgz/);
  });
});
