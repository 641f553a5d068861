/** What one build knows: the immutable inputs, its work paths, and what each stage found out for the next. */
import { join, resolve } from 'node:path';
import type { BuildLog } from './build-log.js';
import type { ResourceStack } from './lifecycle.js';
import type { Profile } from './profile/schema.js';
import type { Md5Memo } from './stages/md5sum.js';
import type { SizeIndex } from './image/rootfs.js';

export interface WorkPaths {
  root: string;
  /** The ISO tree: the extracted base (stage cache) under an overlay whose upper dir, `treeChanges`, gets the edits. */
  tree: string;
  treeChanges: string;
  treeWork: string;
  /**
   * The unpacked rootfs squashfs (for layered casper: the layer being edited, an overlayfs upper dir) until the
   * stage cache takes it; what changes after that point collects in `changes`.
   */
  layer: string;
  /** overlayfs upper dir of everything changed after the stage-cache point (overlay files, VERSION, later hooks). */
  changes: string;
  /** Where the rootfs is mounted when it is a stack (lower squashfs layers, the cached layer, `changes`). */
  merged: string;
  lowers: string;
  overlayWork: string;
  /** Scratch space for verifying the new ISO. */
  verify: string;
  log: string;
}

export function workPaths(root: string): WorkPaths {
  const r = resolve(root);
  return {
    root: r,
    tree: join(r, 'iso'),
    treeChanges: join(r, 'iso-changes'),
    treeWork: join(r, 'iso-overlay-work'),
    layer: join(r, 'rootfs'),
    changes: join(r, 'changes'),
    merged: join(r, 'merged'),
    lowers: join(r, 'lowers'),
    overlayWork: join(r, 'overlay-work'),
    verify: join(r, 'verify'),
    log: join(r, 'build.log'),
  };
}

export type LayoutKind = 'casper' | 'casper-layered' | 'debian-live';

export interface RootfsLayout {
  kind: LayoutKind;
  /** The squashfs being customized, relative to the ISO tree. */
  squashfs: string;
  /** Layered casper: the layers below it, bottom first, relative to the ISO tree. */
  lowers: string[];
  /** Sibling files rewritten with the squashfs, relative to the ISO tree. */
  sizeFile: string;
  manifestFile: string;
  /** Layered casper: the install-sources.yaml entry id that installs this layer. */
  installSourceId?: string;
  /**
   * `repack`: `squashfs` is unpacked, changed and packed again in place.
   * `layer`: `squashfs` and everything below it stay untouched; the changes become `newLayer` on top.
   */
  strategy: 'repack' | 'layer';
  /** Layer strategy: the new top layer, relative to the ISO tree (its .size/.manifest are sizeFile/manifestFile). */
  newLayer?: string;
}

/**
 * The images the changed squashfs sits on in the installed system, bottom first, relative to the ISO tree: what is
 * mounted read-only under the rootfs view (a new layer sits on the customized squashfs and its lowers).
 */
export function imagesBelowChanged(layout: RootfsLayout): string[] {
  return layout.newLayer ? [...layout.lowers, layout.squashfs] : layout.lowers;
}

/** The squashfs in the new ISO that holds this build's changes (and so its VERSION). */
export function changedImage(layout: RootfsLayout): string {
  return layout.newLayer ?? layout.squashfs;
}

export interface BuildContext {
  readonly profile: Profile;
  readonly version: string;
  readonly epochSeconds: number;
  readonly work: WorkPaths;
  readonly log: BuildLog;
  readonly resources: ResourceStack;
  readonly cacheDir: string;
  readonly outputDir: string;
  readonly outputIso: string;
  readonly partialIso: string;
  /** The topmost directory of outputDir this build created, if any (removed again when a failed build leaves it empty). */
  readonly createdOutputDir?: string;
  base?: { path: string; sha256: string };
  /** Settles when the base ISO's sha256 has been checked (it runs alongside the extraction); undefined when remembered. */
  baseVerified?: Promise<void>;
  /** md5s of the base tree's files, being computed in the background (md5sum.ts). */
  baseTreeMd5?: Promise<Md5Memo>;
  /** From xorriso -report_el_torito as_mkisofs of the base ISO. */
  bootSetup?: string[];
  basePlatforms?: string[];
  layout?: RootfsLayout;
  /** Where the rootfs being customized is visible (the layer itself, or the merged overlay for layered casper). */
  rootfsView?: string;
  /** Releases the view (unmounts the overlay stack); undefined when nothing is mounted. */
  closeRootfsView?: () => Promise<void>;
  /** `dpkg-query` package list of the customized rootfs, taken while it was visible. */
  packageManifest?: string;
  /** The package list when the changes overlay was mounted (read in the background; repack-rootfs.ts). */
  packagesAtCachePoint?: Promise<string | undefined>;
  /** Sizes in the stack of imagesBelowChanged, read in the background while the rootfs is customized. */
  sizesBelow?: Promise<SizeIndex>;
  /** Sum of the sizes of all non-directories of the customized system (deterministic, unlike du). */
  installedSize?: number;
  isoSha256?: string;
  /** Stage-cache key of the customized rootfs (see stage-cache.ts). */
  rootfsCacheKey?: string;
  /** The rootfs came from the stage cache: unpack, pre-customize hooks, chroot commands and packages are skipped. */
  rootfsFromCache?: boolean;
  /** The customized layer as the stage cache holds it (read-only: the lower of the `changes` overlay). */
  cachedLayer?: string;
}
