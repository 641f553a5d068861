/**
 * Root stages run one at a time on a prepared BuildInputs, without listr2 or the pipeline, on the single fixture ISO:
 * verify-base, extract-iso, detect-layout, unpack-rootfs, chroot-commands, rootfs-cache, product-files, repack-rootfs,
 * md5sum, rebuild-iso, verify-iso, publish. Each gets what it reads; what
 * it produces is read back with independent tools (findmnt, the files on disk), and the build's resources release
 * every mount.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BuildLog } from '../../src/build-log.js';
import { workPaths, type BuildInputs } from '../../src/context.js';
import { ResourceStack } from '../../src/lifecycle.js';
import { recordingReporter } from '../../src/pipeline/reporter.js';
import { loadProfile } from '../../src/profile/load.js';
import { chrootCommandsStage } from '../../src/stages/chroot-commands.js';
import { detectLayoutStage } from '../../src/stages/detect-layout.js';
import { extractIsoStage } from '../../src/stages/extract-iso.js';
import { saveRootfsCacheStage } from '../../src/stages/rootfs-cache.js';
import { unpackRootfsStage } from '../../src/stages/unpack-rootfs.js';
import { verifyBaseStage } from '../../src/stages/verify-base.js';
import { md5sumStage } from '../../src/stages/md5sum.js';
import { productFilesStage } from '../../src/stages/product-files.js';
import { publishStage } from '../../src/stages/publish.js';
import { rebuildIsoStage } from '../../src/stages/rebuild-iso.js';
import { repackRootfsStage } from '../../src/stages/repack-rootfs.js';
import { verifyIsoStage } from '../../src/stages/verify-iso.js';
import { findmntUnder, fixtureIso, fixtureSha, sh, sha256, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';

describe('stages on the single fixture, one at a time', needs(requireRoot(), requireFixtures()), () => {
  const dir = tempDir('stages');
  const resources = new ResourceStack();
  afterAll(async () => {
    await resources.releaseAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('each stage produces what the next one reads, from the base ISO to the published release', async () => {
    const fixture = await loadProfile('profiles/fixture.yaml', { basePath: fixtureIso('single'), baseSha256: fixtureSha('single') });
    const profile = { ...fixture, chroot: { commands: ['echo "stage test as $(id -un)" > /etc/stage-test'], env: {} } };
    const work = workPaths(join(dir, 'work'));
    mkdirSync(work.root, { recursive: true });
    const ctx: BuildInputs = {
      profile,
      version: 'v4.0.0',
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
    const base = await verifyBaseStage(ctx, recordingReporter());
    const tree = await extractIsoStage(ctx, base, recordingReporter());
    expect(findmntUnder(work.root)).toContain(work.tree);
    expect(tree.platforms).toEqual(['BIOS', 'UEFI']);
    expect(tree.bootSetup.length).toBeGreaterThan(0);
    expect((await tree.baseTreeMd5).has('casper/filesystem.squashfs')).toBe(true);

    const layout = await detectLayoutStage(ctx, recordingReporter());
    expect(layout).toMatchObject({ kind: 'casper', squashfs: 'casper/filesystem.squashfs', strategy: 'repack' });

    const unpacked = await unpackRootfsStage(ctx, base, layout, recordingReporter());
    expect(unpacked.fromCache).toBeUndefined();
    expect(unpacked.view).toBe(work.layer);
    expect(readFileSync(join(unpacked.view, 'etc/debian_version'), 'utf8')).toMatch(/^12\./);

    const chroot = recordingReporter();
    await chrootCommandsStage(ctx, unpacked.view, chroot);
    expect(chroot.title).toBe('Run chroot commands: 1 done');
    expect(readFileSync(join(unpacked.view, 'etc/stage-test'), 'utf8')).toBe('stage test as root\n');

    const cached = await saveRootfsCacheStage(ctx, layout, unpacked, recordingReporter());
    expect(cached.view).toBe(work.merged);
    expect(findmntUnder(work.root)).toContain(work.merged);
    expect(readFileSync(join(cached.view, 'etc/stage-test'), 'utf8')).toBe('stage test as root\n');
    expect(cached.layer.startsWith(join(work.root, 'stage-cache'))).toBe(true);
    expect(await cached.packagesAtCachePoint).toMatch(/^dpkg\t/m);

    productFilesStage(ctx, base, cached.view, recordingReporter());
    const repacked = await repackRootfsStage(ctx, layout, unpacked, cached, recordingReporter());
    expect(repacked.packageManifest).toMatch(/^dpkg\t/m);
    expect(readFileSync(join(work.tree, 'casper/filesystem.size'), 'utf8')).toBe(`${repacked.installedSize}\n`);
    const image = join(work.tree, 'casper/filesystem.squashfs');
    expect(sh('unsquashfs', ['-cat', image, 'opt/novasphere/VERSION'])).toBe('v4.0.0\n');
    expect(sh('unsquashfs', ['-cat', image, 'etc/stage-test'])).toBe('stage test as root\n');

    const md5sums = await md5sumStage(ctx, tree, recordingReporter());
    expect(sh('md5sum', ['-c', 'md5sum.txt'], work.tree)).not.toMatch(/FAILED/);
    // What this build wrote is not "copied" (the verify stage reads it back); the untouched base files are.
    expect([...md5sums.copied.keys()]).toContain('casper/vmlinuz');
    for (const written of ['casper/filesystem.squashfs', 'casper/filesystem.size', '.disk/info']) expect(md5sums.copied.has(written), written).toBe(false);
    // A written file that no longer matches its md5 line is found by reading it back.
    const info = readFileSync(join(work.tree, '.disk/info'));
    writeFileSync(join(work.tree, '.disk/info'), Buffer.concat([info, Buffer.from('x')]));
    const bad = await rebuildIsoStage(ctx, base, tree, undefined, undefined, recordingReporter());
    await expect(verifyIsoStage(ctx, bad, tree.platforms, layout, md5sums, recordingReporter())).rejects.toThrow(/md5sum\.txt mismatch for \.\/\.disk\/info/);
    writeFileSync(join(work.tree, '.disk/info'), info);
    const written = await rebuildIsoStage(ctx, base, tree, undefined, undefined, recordingReporter());
    expect(written.sha256).toBe(sha256(ctx.partialIso));
    const iso = await verifyIsoStage(ctx, written, tree.platforms, layout, md5sums, recordingReporter());
    expect(iso.sha256).toBe(sha256(ctx.partialIso));
    await publishStage(ctx, { base, platforms: tree.platforms, layout, packageList: repacked.packageManifest, isoSha256: iso.sha256 }, recordingReporter());
    expect(sh('sha256sum', ['-c', 'SHA256SUMS'], ctx.outputDir)).toContain('x.iso: OK');

    expect(await resources.releaseAll()).toEqual([]);
    expect(findmntUnder(work.root)).toEqual([]);
  });
});
