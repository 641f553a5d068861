/**
 * The build, as a flat list of named stages over the immutable BuildInputs (like mkosi's build_image). Each line says
 * what its stage reads (the slots it gets) and what it produces (the slot it sets). Stage modules load when the
 * pipeline gets to them, or earlier in the background (prefetch): start-up pays only for the profile and the runner.
 */
import type { BuildInputs } from '../context.js';
import type { RootfsLayout } from '../layout.js';
import type { HookPoint } from '../profile/schema-autoinstall.js';
import type { IsoTree } from '../stages/extract-iso.js';
import type { Md5Sums } from '../stages/md5sum.js';
import type { RepackedRootfs } from '../stages/repack-rootfs.js';
import type { CachedRootfs } from '../rootfs-mounts.js';
import type { UnpackedRootfs } from '../stages/unpack-rootfs.js';
import type { VerifiedBase } from '../stages/verify-base.js';
import type { VerifiedIso } from '../stages/verify-iso.js';
import type { WrittenIso } from '../stages/rebuild-iso.js';
import type { BaseCopy } from '../image/iso-in-place.js';
import type { PayloadItem } from '../packages/manifest.js';
import { PROGRAMS, type Program } from '../tools/programs.js';
import { Slot, type Step } from './steps.js';
import { applyOverlaySkip, autoinstallSkip, bootMenuSkip, bringupSkip, chrootCommandsSkip, hooksSkip, packagesSkip } from '../stages/skips.js';
import type { Profile } from '../profile/schema.js';

/** The stage modules, in pipeline order. */
const stages = {
  verifyBase: () => import('../stages/verify-base.js'),
  extractIso: () => import('../stages/extract-iso.js'),
  detectLayout: () => import('../stages/detect-layout.js'),
  copyBase: () => import('../stages/copy-base.js'),
  unpackRootfs: () => import('../stages/unpack-rootfs.js'),
  hooks: () => import('../stages/hooks.js'),
  chrootCommands: () => import('../stages/chroot-commands.js'),
  packages: () => import('../stages/packages.js'),
  rootfsCache: () => import('../stages/rootfs-cache.js'),
  applyOverlay: () => import('../stages/apply-overlay.js'),
  productFiles: () => import('../stages/product-files.js'),
  bringup: () => import('../stages/bringup.js'),
  autoinstall: () => import('../stages/autoinstall.js'),
  bootMenu: () => import('../stages/boot-menu.js'),
  repackRootfs: () => import('../stages/repack-rootfs.js'),
  md5sum: () => import('../stages/md5sum.js'),
  rebuildIso: () => import('../stages/rebuild-iso.js'),
  verifyIso: () => import('../stages/verify-iso.js'),
  publish: () => import('../stages/publish.js'),
};

/**
 * Load the stage modules this profile runs, in pipeline order, in the background (their evaluation fills the waits on
 * tools). The optional stages' modules are left out when the profile skips them: their dependencies (ajv for the
 * autoinstall schema, the payload's registry and archive code) would cost the main thread tens of milliseconds while
 * it hashes.
 */
export function prefetchStages(ctx: Pick<BuildInputs, 'profile'>): void {
  const unused = new Set<keyof typeof stages>();
  if (packagesSkip(ctx) !== false) unused.add('packages');
  if (bringupSkip(ctx) !== false) unused.add('bringup');
  if (autoinstallSkip(ctx) !== false) unused.add('autoinstall');
  if (bootMenuSkip(ctx) !== false) unused.add('bootMenu');
  if (chrootCommandsSkip(ctx) !== false) unused.add('chrootCommands');
  const loaders: (() => Promise<unknown>)[] = (Object.keys(stages) as (keyof typeof stages)[]).filter((k) => !unused.has(k)).map((k) => stages[k]);
  void loaders.reduce<Promise<unknown>>((prev, load) => prev.then(load), Promise.resolve()).catch(() => undefined);
}

/**
 * The external programs the stages run (through their tool wrappers) for this profile, stage by stage as listed below:
 * checked before any work (tools/programs.ts), so a missing one fails at once naming its Debian package.
 */
export function requiredPrograms(profile: Profile, opts: { signing: boolean; keepWork?: boolean; checkReproducible?: boolean }): Program[] {
  // The stages' own skip rules (stages/skips.ts) say which of them run.
  const ctx = { profile };
  const runs = (...skips: (string | false)[]): boolean => skips.some((reason) => reason === false);
  const payload = runs(packagesSkip(ctx));
  const inChroot = runs(chrootCommandsSkip(ctx), hooksSkip(ctx, 'pre-customize'), hooksSkip(ctx, 'post-customize'));
  const menus = runs(bootMenuSkip(ctx));
  const onHost = runs(hooksSkip(ctx, 'pre-repack'), hooksSkip(ctx, 'post-build'));
  return [
    ...PROGRAMS.digest, // Regenerate md5sum.txt, Verify the new ISO (openssl, dd)
    ...PROGRAMS.xorriso, // Extract ISO tree, Write the ISO over the base, Verify the new ISO
    ...PROGRAMS.mount, // Extract ISO tree (overlay), Unpack rootfs (layer stack)
    ...PROGRAMS.squashfs, // Unpack rootfs, Repack rootfs squashfs
    ...PROGRAMS.dpkg, // Repack rootfs squashfs: the package list; release notes: dpkg's version order
    ...(menus ? PROGRAMS.mtools : []), // Edit the boot menu: the GRUB config inside an El Torito EFI image file
    ...(inChroot ? PROGRAMS.chroot : []), // chroot commands, pre-/post-customize hooks
    ...(onHost ? PROGRAMS.hostScript : []), // pre-repack, post-build hooks
    ...(payload ? [...PROGRAMS.apt, ...PROGRAMS.gpg] : []), // Build and verify the offline package payload
    ...(opts.signing ? PROGRAMS.gpg : []), // Write release artifacts: SHA256SUMS.asc
    ...(opts.keepWork ? PROGRAMS.cp : []), // --keep-work: the ISO tree copied out of its overlay
    ...(opts.checkReproducible ? PROGRAMS.sqfs2tar : []), // --check-reproducible: the first difference, xattrs
  ];
}

export interface BuildPipeline {
  steps: Step[];
  /** The new ISO's sha256, once the verify stage ran. */
  isoSha256: () => string;
  /** Whether the release is complete at the output path (what a failure after that point must not deny). */
  published: () => boolean;
}

export function buildPipeline(ctx: BuildInputs): BuildPipeline {
  const base = new Slot<VerifiedBase>('the verified base ISO');
  const tree = new Slot<IsoTree>('the ISO tree');
  const layout = new Slot<RootfsLayout>('the rootfs layout');
  const baseCopy = new Slot<BaseCopy>('the copy of the base ISO');
  const unpacked = new Slot<UnpackedRootfs>('the unpacked rootfs');
  const saved = new Slot<CachedRootfs>('the rootfs saved to the stage cache');
  const repacked = new Slot<RepackedRootfs>('the repacked rootfs');
  const md5sums = new Slot<Md5Sums>('md5sum.txt');
  const written = new Slot<WrittenIso>('the written ISO');
  const iso = new Slot<VerifiedIso>('the verified ISO');
  const payload = new Slot<PayloadItem[]>('the verified payload\'s items');
  let published = false;

  // The skip rules read only the profile (stages/skips.ts). Up to the stage-cache point a cache hit skips the stage
  // too; after it the build works in the view above the cached layer.
  const always = (reason: string | false) => (): string | false => reason;
  const beforeCache = (reason: string | false) => (): string | false => (unpacked.get().fromCache ? 'reused from the stage cache' : reason);
  const hooks = (point: HookPoint, view: () => string, skip = always): Step => ({
    title: `Run ${point} hooks`,
    skip: skip(hooksSkip(ctx, point)),
    run: async (t) => (await stages.hooks()).hooksStage(ctx, point, view(), t),
  });
  // The rootfs at the stage-cache point: the one this build saved, or the one a cache hit brought.
  const atCachePoint = (): CachedRootfs => unpacked.get().fromCache ?? saved.get();
  const afterCacheView = (): string => atCachePoint().view;

  const steps: Step[] = [
    { title: 'Verify base ISO', run: async (t) => base.set(await (await stages.verifyBase()).verifyBaseStage(ctx, t)) },
    { title: 'Extract ISO tree', run: async (t) => tree.set(await (await stages.extractIso()).extractIsoStage(ctx, base.get(), t)) },
    { title: 'Detect rootfs layout', run: async (t) => layout.set(await (await stages.detectLayout()).detectLayoutStage(ctx, t)) },
    {
      title: 'Copy the base ISO into the new ISO',
      skip: async () => (await stages.copyBase()).copyBaseSkip(ctx, layout.get()),
      run: async (t) => baseCopy.set((await stages.copyBase()).copyBaseStage(ctx, base.get(), t)),
    },
    // or the stage cache's rootfs, skipping up to the save
    { title: 'Unpack rootfs', run: async (t) => unpacked.set(await (await stages.unpackRootfs()).unpackRootfsStage(ctx, base.get(), layout.get(), t)) },
    hooks('pre-customize', () => unpacked.get().view, beforeCache),
    {
      title: 'Run chroot commands',
      skip: beforeCache(chrootCommandsSkip(ctx)),
      run: async (t) => (await stages.chrootCommands()).chrootCommandsStage(ctx, unpacked.get().view, t),
    },
    {
      title: 'Build the offline package payload',
      skip: beforeCache(packagesSkip(ctx)),
      run: async (t) => (await stages.packages()).packagesStage(ctx, unpacked.get().view, t),
    },
    {
      title: 'Verify the package payload',
      skip: always(packagesSkip(ctx)),
      run: async (t) => payload.set(await (await stages.packages()).packagesVerifyStage(ctx, unpacked.get().view, t)),
    },
    {
      title: 'Save the customized rootfs to the stage cache',
      skip: beforeCache(false),
      run: async (t) => saved.set(await (await stages.rootfsCache()).saveRootfsCacheStage(ctx, layout.get(), unpacked.get(), t)),
    },
    // After the cache point: changing an overlay file or the version does not run apt or the chroot commands again.
    {
      title: 'Apply overlay files',
      skip: always(applyOverlaySkip(ctx)),
      run: async (t) => (await stages.applyOverlay()).applyOverlayStage(ctx, afterCacheView(), t),
    },
    hooks('post-customize', afterCacheView),
    {
      title: 'Write VERSION, build-info.json and .disk/info',
      run: async (t) => (await stages.productFiles()).productFilesStage(ctx, base.get(), afterCacheView(), t),
    },
    {
      title: 'Write the first-boot bring-up',
      skip: always(bringupSkip(ctx)),
      run: async (t) => (await stages.bringup()).bringupStage(ctx, afterCacheView(), t),
    },
    {
      title: 'Write autoinstall (nocloud user-data, meta-data)',
      skip: always(autoinstallSkip(ctx)),
      run: async (t) => (await stages.autoinstall()).autoinstallStage(ctx, t),
    },
    {
      title: 'Edit the boot menu',
      skip: always(bootMenuSkip(ctx)),
      run: async (t) => (await stages.bootMenu()).bootMenuStage(ctx, tree.get().bootSetup, t),
    },
    hooks('pre-repack', afterCacheView),
    {
      title: 'Repack rootfs squashfs',
      run: async (t) => repacked.set(await (await stages.repackRootfs()).repackRootfsStage(ctx, layout.get(), unpacked.get(), atCachePoint(), t)),
    },
    { title: 'Regenerate md5sum.txt', run: async (t) => md5sums.set(await (await stages.md5sum()).md5sumStage(ctx, tree.get(), t)) },
    { title: 'Write the ISO over the base', run: async (t) => written.set(await (await stages.rebuildIso()).rebuildIsoStage(ctx, base.get(), tree.get(), baseCopy.ifProduced(), repacked.get().grownFromBase, t)) },
    { title: 'Verify the new ISO', run: async (t) => iso.set(await (await stages.verifyIso()).verifyIsoStage(ctx, written.get(), tree.get().platforms, layout.get(), md5sums.get(), t)) },
    {
      title: 'Write release artifacts',
      run: async (t) => {
        await (await stages.publish()).publishStage(
          ctx,
          {
            base: base.get(),
            platforms: tree.get().platforms,
            layout: layout.get(),
            packageList: repacked.get().packageManifest,
            isoSha256: iso.get().sha256,
            ...(packagesSkip(ctx) === false ? { payload: payload.get() } : {}),
          },
          t,
        );
        published = true;
      },
    },
    // The host hooks get the rootfs view's path as ISO_BUILD_ROOTFS (unmounted by now, as before).
    hooks('post-build', afterCacheView),
  ];
  return { steps, isoSha256: () => iso.get().sha256, published: () => published };
}
