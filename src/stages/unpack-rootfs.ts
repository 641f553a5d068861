/**
 * Stage: reads the layout, the base and the profile's cache-relevant fields; produces the UnpackedRootfs: the squashfs to
 * customize unpacked (for layered casper as an overlayfs upper dir over the read-only lower layers, so the chroot sees the
 * whole system while every change, deletions as whiteouts, lands in the layer alone), or with a stage-cache hit the
 * cached layer mounted read-only under an overlay that collects this build's changes (mountChanges).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { unsquash } from '../tools/squashfs.js';
import { cachedRootfs, rootfsCacheKey } from '../stage-cache.js';
import { openImages } from '../image/open-images.js';
import { toolVersions } from '../release/manifest.js';
import { LayerStack, type SizeIndex } from '../image/rootfs.js';
import { imagesBelowChanged, imagesUnderView, type RootfsLayout } from '../layout.js';
import { RootfsMounts, mountChanges, type CachedRootfs } from '../rootfs-mounts.js';
import { progressReporter, type Reporter } from '../pipeline/reporter.js';
import type { BuildInputs } from '../context.js';

export interface UnpackedRootfs {
  /** Stage-cache key of the customized rootfs (stage-cache.ts). */
  cacheKey: string;
  /** Where the rootfs being customized is visible (the layer itself, or the merged overlay). */
  view: string;
  /** The stack's mounts (a build resource). */
  mounts: RootfsMounts;
  /** Sizes in the stack of imagesBelowChanged, read in the background; undefined when nothing is below. */
  sizesBelow?: Promise<SizeIndex>;
  /** Set when the rootfs came from the stage cache: pre-customize hooks, chroot commands and packages are skipped. */
  fromCache?: CachedRootfs;
}

export async function unpackRootfsStage(ctx: BuildInputs, base: { sha256: string }, layout: RootfsLayout, task: Reporter): Promise<UnpackedRootfs> {
  rmSync(ctx.work.layer, { recursive: true, force: true });
  const sizesBelow = indexSizesBelow(ctx, layout);
  // The tool versions the packed layer's cache key and the build manifest record: asked now (once per process,
  // never failing), while the rootfs work waits on tools; not at start-up, where their spawns would delay the base.
  void toolVersions();
  const cacheKey = rootfsCacheKey(ctx, base.sha256, layout);
  const mounts = RootfsMounts.create(ctx);
  const cached = cachedRootfs(ctx.work.root, cacheKey);
  if (cached) {
    task.title = `Reuse the customized rootfs from the stage cache (${cacheKey.slice(0, 12)})`;
    const fromCache = await mountChanges(ctx, layout, mounts, cached);
    return { cacheKey, view: fromCache.view, mounts, sizesBelow, fromCache };
  }
  if (layout.strategy === 'layer' || layout.mergeIntoBase) {
    // Nothing to unpack: the whole stack is mounted read-only and the changes collect in an empty upper dir.
    task.title = layout.mergeIntoBase
      ? `Mount ${layout.squashfs}; changes are merged into it later, its compressed blocks reused`
      : `Mount ${layout.squashfs} and the layers below it; changes go to a new layer`;
    mkdirSync(ctx.work.layer, { recursive: true });
    return { cacheKey, view: await mounts.mount(imagesUnderView(layout), [], ctx.work.layer), mounts, sizesBelow };
  }
  task.title = `Unpack rootfs ${layout.squashfs}`;
  await unsquash(join(ctx.work.tree, layout.squashfs), ctx.work.layer, {
    log: ctx.log,
    onProgress: progressReporter(task, 'unsquashfs'),
  });
  if (layout.lowers.length === 0) return { cacheKey, view: ctx.work.layer, mounts, sizesBelow };
  return { cacheKey, view: await mounts.mount(imagesBelowChanged(layout), [], ctx.work.layer), mounts, sizesBelow };
}

/**
 * Starts reading the sizes of the images below the changed one (in-process, from their tables) while the rootfs is
 * customized; repack-rootfs.ts then walks only the changed image for the installed size.
 */
function indexSizesBelow(ctx: BuildInputs, layout: RootfsLayout): Promise<SizeIndex> | undefined {
  // LayerStack wants the top layer first.
  const below = imagesBelowChanged(layout).map((p) => join(ctx.work.tree, p)).reverse();
  if (below.length === 0) return undefined;
  const indexing = (async () => {
    const images = await openImages(below);
    try {
      return await new LayerStack(images.layers).sizeIndex();
    } finally {
      await images.close();
    }
  })();
  indexing.catch(() => undefined); // awaited (and reported) by repack; never an unhandled rejection
  // Settled before the ISO tree is unmounted (resources are released last in, first out): open files would keep it busy.
  ctx.resources.push('size index of the images below', () => indexing.then(() => undefined, () => undefined));
  return indexing;
}
