/**
 * Stages run one at a time on a prepared BuildInputs, without listr2 and without the pipeline: each gets what it reads
 * and its result (or the files it writes) is checked. Stages that need root (mounts, chroot, squashfs, xorriso) are
 * exercised by the integration tests.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BuildLog } from '../../src/build-log.js';
import { workPaths, type BuildInputs } from '../../src/context.js';
import { ResourceStack } from '../../src/lifecycle.js';
import { baseTreeMd5s } from '../../src/md5-memo.js';
import { recordingReporter } from '../../src/pipeline/reporter.js';
import { loadProfile } from '../../src/profile/load.js';
import type { Profile } from '../../src/profile/schema.js';
import { applyOverlayStage } from '../../src/stages/apply-overlay.js';
import { bootMenuStage } from '../../src/stages/boot-menu.js';
import { detectLayoutStage } from '../../src/stages/detect-layout.js';
import { hooksStage } from '../../src/stages/hooks.js';
import { applyOverlaySkip, hooksSkip } from '../../src/stages/skips.js';
import { md5sumStage } from '../../src/stages/md5sum.js';
import { productFilesStage } from '../../src/stages/product-files.js';
import { verifyBaseStage } from '../../src/stages/verify-base.js';
import { sha256OfFile } from '../../src/tools/digest.js';

const tmp = mkdtempSync(join(tmpdir(), 'iso-build-stages-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
async function inputs(edit: (p: Profile) => Profile = (p) => p): Promise<BuildInputs> {
  const root = join(tmp, `build-${++n}`);
  const profile = edit(await loadProfile('profiles/fixture.yaml', { basePath: 'x.iso', baseSha256: 'a'.repeat(64) }));
  const work = workPaths(join(root, 'work'));
  mkdirSync(work.tree, { recursive: true });
  const outputDir = join(root, 'release');
  return {
    profile,
    version: 'v3.0.0',
    epochSeconds: 1700000000,
    work,
    log: new BuildLog(work.log),
    resources: new ResourceStack(),
    cacheDir: join(root, 'cache'),
    outputDir,
    outputIso: join(outputDir, 'x.iso'),
    partialIso: join(outputDir, 'x.iso.partial'),
    childEnv: {},
    outputLock: { file: '', release: () => undefined }, // no other build shares these directories
  };
}

const md5hex = (text: string): string => createHash('md5').update(text).digest('hex');

function write(root: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
}

describe('verify-base stage', () => {
  it('takes a local ISO 9660 image and checks its sha256 first (then remembers it)', async () => {
    const iso = join(tmp, 'base.iso');
    const image = Buffer.alloc(40000);
    image.write('\x01CD001', 32768, 'latin1');
    writeFileSync(iso, image);
    const sha256 = await sha256OfFile(iso);
    const ctx = await inputs((p) => ({ ...p, base: { ...p.base, path: iso, url: undefined, sha256 } }));
    const task = recordingReporter();
    const base = await verifyBaseStage(ctx, task);
    await base.verified;
    expect(base).toMatchObject({ path: iso, sha256 });
    expect(task.title).toBe('Verify base ISO: base.iso sha256 OK');
    const again = await verifyBaseStage(ctx, recordingReporter());
    await again.verified;
    expect(readFileSync(ctx.log.path, 'utf8')).toContain('(remembered: the file is unchanged since it was hashed)');
  });

  it('refuses a base whose sha256 differs', async () => {
    const iso = join(tmp, 'base.iso');
    const ctx = await inputs((p) => ({ ...p, base: { ...p.base, path: iso, url: undefined, sha256: 'c'.repeat(64) } }));
    // before any tool reads it: the stage itself fails, nothing is left to settle later
    await expect(verifyBaseStage(ctx, recordingReporter())).rejects.toThrow(/has sha256 \w+, expected c{64}/);
  });
});

describe('detect-layout stage', () => {
  it('returns the layout of the extracted tree, with the profile strategy applied', async () => {
    const ctx = await inputs();
    write(ctx.work.tree, { 'casper/filesystem.squashfs': '' });
    const task = recordingReporter();
    const layout = await detectLayoutStage(ctx, task);
    expect(layout).toMatchObject({ kind: 'casper', squashfs: 'casper/filesystem.squashfs', strategy: 'repack', lowers: [] });
    expect(layout.mergeIntoBase).toBeUndefined(); // an empty file is no squashfs to merge into
    expect(readFileSync(ctx.log.path, 'utf8')).toMatch(/^rootfs: casper\/filesystem\.squashfs is packed in a way iso-build cannot read \(.*\); this build packs /m);
    expect(task.title).toBe('Detect rootfs layout: casper, customizing casper/filesystem.squashfs');
  });
});

describe('apply-overlay stage', () => {
  it('copies the overlay into the rootfs view, modes kept', async () => {
    const src = join(tmp, 'overlay-src');
    write(src, { 'etc/motd': 'hello\n' });
    const ctx = await inputs((p) => ({ ...p, overlay: [{ source: src, target: '/', into: 'rootfs', owner: 'keep' }] }));
    const view = join(tmp, 'view-overlay');
    mkdirSync(view);
    const task = recordingReporter();
    applyOverlayStage(ctx, view, task);
    expect(readFileSync(join(view, 'etc/motd'), 'utf8')).toBe('hello\n');
    expect(task.title).toBe('Apply overlay files: 3 entries');
    expect(applyOverlaySkip({ ...ctx, profile: { ...ctx.profile, overlay: [] } })).toBe('no overlay in the profile');
  });
});

describe('product-files stage', () => {
  it('writes VERSION and build-info.json into the view and .disk/info into the tree', async () => {
    const ctx = await inputs();
    write(ctx.work.tree, { '.disk/info': 'Debian 12' });
    const view = join(tmp, 'view-product');
    mkdirSync(view);
    productFilesStage(ctx, { path: '/isos/base.iso', sha256: 'd'.repeat(64) }, view, recordingReporter());
    expect(readFileSync(join(view, 'opt/novasphere/VERSION'), 'utf8')).toBe('v3.0.0\n');
    const info = JSON.parse(readFileSync(join(view, 'opt/novasphere/build-info.json'), 'utf8')) as Record<string, unknown>;
    expect(info).toMatchObject({ version: 'v3.0.0', baseIso: { name: 'base.iso', sha256: 'd'.repeat(64) }, sourceDateEpoch: 1700000000 });
    expect(readFileSync(join(ctx.work.tree, '.disk/info'), 'utf8')).toBe('NovaSphere Fixture v3.0.0 (based on Debian 12)');
  });
});

describe('boot-menu stage', () => {
  it('adds the autoinstall entry to the tree\'s grub.cfg', async () => {
    const ctx = await inputs();
    write(ctx.work.tree, { 'boot/grub/grub.cfg': 'set timeout=30\nmenuentry "Try or Install" {\n\tlinux /casper/vmlinuz ---\n}\n' });
    const task = recordingReporter();
    await bootMenuStage(ctx, [], task);
    const cfg = readFileSync(join(ctx.work.tree, 'boot/grub/grub.cfg'), 'utf8');
    expect(cfg).toContain('menuentry "Install NovaSphere Fixture v3.0.0 (automatic)"');
    expect(cfg).toContain('set timeout=1');
    expect(task.title).toBe('Edit the boot menu: boot/grub/grub.cfg');
  });
});

describe('md5sum stage', () => {
  it('writes md5sum.txt of the tree, sorted, reusing the base tree\'s md5s', async () => {
    const ctx = await inputs();
    write(ctx.work.tree, { 'b.txt': 'b', 'a/c.txt': 'c' });
    const base = join(tmp, 'base-tree', 'tree');
    write(base, { 'b.txt': 'b' });
    const task = recordingReporter();
    const md5sums = await md5sumStage(ctx, { bootSetup: [], platforms: [], baseTree: base, baseTreeMd5: baseTreeMd5s(base) }, task);
    expect(readFileSync(join(ctx.work.tree, 'md5sum.txt'), 'utf8')).toBe('4a8a08f09d37b73795649038408b5f33  ./a/c.txt\n92eb5ffee6ae2fec3ad71c777531578f  ./b.txt\n');
    expect(task.title).toBe('Regenerate md5sum.txt: 2 files (2 unchanged since the base)');
    expect(md5sums.copied).toEqual(new Map([['a/c.txt', 1], ['b.txt', 1]]));
  });

  it('takes the md5 of an untouched file from the base\'s md5sum.txt, of an edited one from its bytes', async () => {
    const ctx = await inputs();
    const base = join(tmp, 'base-tree-2', 'tree');
    // The base's own md5sum.txt is what the lines of its untouched files come from (the base's sha256 was checked),
    // so its line is taken as it is (a made-up md5 here shows it was not hashed); an absent file's line is ignored.
    write(base, { 'b.txt': 'b', 'e.txt': 'e', 'md5sum.txt': `${'f'.repeat(32)}  ./b.txt\n${'e'.repeat(32)}  ./gone.txt\n` });
    write(ctx.work.tree, { 'b.txt': 'b', 'e.txt': 'edited' });
    write(ctx.work.treeChanges, { 'e.txt': 'edited' });
    const md5sums = await md5sumStage(ctx, { bootSetup: [], platforms: [], baseTree: base, baseTreeMd5: baseTreeMd5s(base) }, recordingReporter());
    expect(readFileSync(join(ctx.work.tree, 'md5sum.txt'), 'utf8')).toBe(`${'f'.repeat(32)}  ./b.txt\n${md5hex('edited')}  ./e.txt\n`);
    expect([...md5sums.copied.keys()]).toEqual(['b.txt']);
  });

  it('lists the files left in the base ISO with the base\'s md5s, in path order, unless this build wrote them', async () => {
    const ctx = await inputs();
    const base = join(tmp, 'base-tree-3', 'tree');
    // pool/ is not extracted: its lines come from the base's md5sum.txt; a .deb this build added is in the tree.
    write(base, { 'z.txt': 'z', 'md5sum.txt': `${'1'.repeat(32)}  ./pool/main/a.deb\n${'2'.repeat(32)}  ./pool/main/b.deb\n` });
    write(ctx.work.tree, { 'z.txt': 'z', 'a.txt': 'a', 'pool/main/b.deb': 'rebuilt' });
    write(ctx.work.treeChanges, { 'a.txt': 'a', 'pool/main/b.deb': 'rebuilt' });
    const files = [{ path: 'pool/main/a.deb', size: 5, offset: 0 }, { path: 'pool/main/b.deb', size: 9, offset: 2048 }];
    const leftInBase = { files, dirs: ['pool', 'pool/main'] };
    const memo = baseTreeMd5s(base, { iso: join(tmp, 'no-such.iso'), files });
    const md5sums = await md5sumStage(ctx, { bootSetup: [], platforms: [], baseTree: base, leftInBase, baseTreeMd5: memo }, recordingReporter());
    expect(readFileSync(join(ctx.work.tree, 'md5sum.txt'), 'utf8')).toBe(
      `${md5hex('a')}  ./a.txt\n${'1'.repeat(32)}  ./pool/main/a.deb\n${md5hex('rebuilt')}  ./pool/main/b.deb\n${md5hex('z')}  ./z.txt\n`,
    );
    // Copied from the base: checked by size in the new ISO, not read back.
    expect(md5sums.copied).toEqual(new Map([['z.txt', 1], ['pool/main/a.deb', 5]]));
  });
});

describe('hooks stage (on the host)', () => {
  it('runs pre-repack hooks with the documented environment plus the child environment', async () => {
    const script = join(tmp, 'record.sh');
    const record = join(tmp, 'record.txt');
    writeFileSync(script, `echo "$ISO_BUILD_HOOK $ISO_BUILD_VERSION $ISO_BUILD_ROOTFS $TZ" > ${record}\n`);
    const ctx = { ...(await inputs((p) => ({ ...p, hooks: { ...p.hooks, 'pre-repack': [script] } }))), childEnv: { TZ: 'Pacific/Kiritimati' } };
    expect(hooksSkip(ctx, 'pre-repack')).toBe(false);
    expect(hooksSkip(ctx, 'post-build')).toBe('no post-build hooks in the profile');
    const task = recordingReporter();
    await hooksStage(ctx, 'pre-repack', '/view', task);
    expect(readFileSync(record, 'utf8')).toBe('pre-repack v3.0.0 /view Pacific/Kiritimati\n');
    expect(task.title).toBe('Run pre-repack hooks: 1 done');
    expect(existsSync(ctx.log.path)).toBe(true);
  });
});
