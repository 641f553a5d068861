/**
 * Stage 4: unpack the squashfs to customize. For layered casper the layer is unpacked as an overlayfs upper
 * directory over the read-only lower layers, so the chroot sees the whole system while every change (including
 * deletions, as whiteouts) lands in the layer alone. With a stage-cache hit nothing is unpacked: the cached layer
 * is mounted read-only and the build goes on above it (mountChanges).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { mount, unmount } from '../tools/mount.js';
import { unsquash } from '../tools/squashfs.js';
import { cachedRootfs, rootfsCacheKey } from '../stage-cache.js';
import { openImages } from '../image/open-images.js';
import { packageManifest } from './package-manifest.js';
import { toolVersions } from '../release/manifest.js';
import { LayerStack } from '../image/rootfs.js';
import { imagesBelowChanged, type BuildContext } from '../context.js';
import { progressReporter, type StageTask } from './task.js';

export const unpackRootfsStage: StageTask = {
  task: async (ctx, task) => {
    const layout = ctx.layout!;
    rmSync(ctx.work.layer, { recursive: true, force: true });
    indexSizesBelow(ctx);
    // The tool versions the packed layer's cache key and the build manifest record: asked now (once per process,
    // never failing), while the rootfs work waits on tools; not at start-up, where their spawns would delay the base.
    void toolVersions();
    ctx.rootfsCacheKey = rootfsCacheKey(ctx);
    const cached = cachedRootfs(ctx.work.root, ctx.rootfsCacheKey);
    if (cached) {
      task.title = `Reuse the customized rootfs from the stage cache (${ctx.rootfsCacheKey.slice(0, 12)})`;
      ctx.cachedLayer = cached;
      ctx.rootfsFromCache = true;
      await mountChanges(ctx);
      return;
    }
    if (layout.strategy === 'layer') {
      // Nothing to unpack: the whole stack is mounted read-only and the changes collect in an empty upper dir.
      task.title = `Mount ${layout.squashfs} and the layers below it; changes go to a new layer`;
      mkdirSync(ctx.work.layer, { recursive: true });
      await mountStack(ctx, imagesBelowChanged(layout), [], ctx.work.layer);
      return;
    }
    task.title = `Unpack rootfs ${layout.squashfs}`;
    await unsquash(join(ctx.work.tree, layout.squashfs), ctx.work.layer, {
      log: ctx.log,
      onProgress: progressReporter(task, 'unsquashfs'),
    });
    if (layout.lowers.length === 0) {
      ctx.rootfsView = ctx.work.layer;
      return;
    }
    await mountStack(ctx, imagesBelowChanged(layout), [], ctx.work.layer);
  },
};

/**
 * The view for everything after the stage-cache point: the base layers the cached layer sits on (if any), the
 * cached layer itself (read-only), and an empty upper dir, `changes`, that collects this build's changes.
 */
export async function mountChanges(ctx: BuildContext): Promise<void> {
  rmSync(ctx.work.changes, { recursive: true, force: true });
  mkdirSync(ctx.work.changes, { recursive: true });
  await mountStack(ctx, imagesBelowChanged(ctx.layout!), [ctx.cachedLayer!], ctx.work.changes);
  const listing = packageManifest(ctx.work.merged);
  listing.catch(() => undefined); // awaited (and reported) by repack; never an unhandled rejection
  ctx.packagesAtCachePoint = listing;
}

/**
 * The squashfs images of a stack (loop-mounted read-only) and the overlay above them. Replacing the overlay (the
 * stage-cache save puts the cached layer under it) keeps the image mounts: they are the same images, and a fresh
 * mount would decompress again what the chroot commands already read.
 */
class StackMounts {
  private images: string[] = [];
  private imageDirs: string[] = [];
  private overlay = false;
  private closing?: Promise<void>;

  constructor(private readonly ctx: BuildContext) {}

  /** `images`: squashfs files of the ISO tree, bottom first; `dirs`: read-only directories above them; `upper`: the upper dir. */
  async mount(images: string[], dirs: string[], upper: string): Promise<void> {
    const { ctx } = this;
    await this.unmountOverlay();
    if (images.join('\0') !== this.images.join('\0')) {
      await this.unmountImages();
      for (const [i, image] of images.entries()) {
        const dir = join(ctx.work.lowers, String(i));
        mkdirSync(dir, { recursive: true });
        await mount({ target: dir, args: ['-t', 'squashfs', '-o', 'ro,loop', join(ctx.work.tree, image)], what: image }, ctx.log);
        this.imageDirs.push(dir);
        this.images.push(image);
      }
    }
    // overlayfs wants the top-most lower first
    const lowerDirs = [...dirs].reverse().concat([...this.imageDirs].reverse());
    rmSync(ctx.work.overlayWork, { recursive: true, force: true });
    mkdirSync(ctx.work.overlayWork, { recursive: true });
    mkdirSync(ctx.work.merged, { recursive: true });
    // uuid=off: no random trusted.overlay.uuid xattr in the layer (it would make every build differ).
    // redirect_dir=off, metacopy=off: every change is whole in the upper dir (a renamed directory is copied, a chmod
    // copies the data), which is what packing the upper dir as a layer or merging it into a squashfs needs.
    // volatile: no sync of the upper dir at unmount; it is read back from the page cache right after.
    const options = `lowerdir=${lowerDirs.join(':')},upperdir=${upper},workdir=${ctx.work.overlayWork},uuid=off,redirect_dir=off,metacopy=off,volatile`;
    await mount({ target: ctx.work.merged, args: ['-t', 'overlay', 'overlay', '-o', options], what: 'layer stack' }, ctx.log);
    this.overlay = true;
    ctx.rootfsView = ctx.work.merged;
  }

  async unmountOverlay(): Promise<void> {
    if (!this.overlay) return;
    this.overlay = false;
    await unmount(this.ctx.work.merged, this.ctx.log);
  }

  /** Unmounts everything; concurrent and repeated calls share one run (repack starts it, the build's end awaits it). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.unmountOverlay();
      await this.unmountImages();
    })();
    return this.closing;
  }

  private async unmountImages(): Promise<void> {
    while (this.imageDirs.length) {
      await unmount(this.imageDirs.pop()!, this.ctx.log);
      this.images.pop();
    }
  }
}

const stacks = new WeakMap<BuildContext, StackMounts>();

async function mountStack(ctx: BuildContext, images: string[], dirs: string[], upper: string): Promise<void> {
  let stack = stacks.get(ctx);
  if (!stack) {
    const created = new StackMounts(ctx);
    stacks.set(ctx, created);
    ctx.resources.push('layered rootfs mounts', () => created.close());
    stack = created;
  }
  ctx.closeRootfsView = () => stack.close();
  await stack.mount(images, dirs, upper);
}

/** Unmounts the overlay of the rootfs view and keeps the squashfs images under it mounted (for mountChanges). */
export async function releaseOverlay(ctx: BuildContext): Promise<void> {
  await stacks.get(ctx)?.unmountOverlay();
}

/**
 * Starts reading the sizes of the images below the changed one (in-process, from their tables) while the rootfs is
 * customized; repack-rootfs.ts then walks only the changed image for the installed size.
 */
function indexSizesBelow(ctx: BuildContext): void {
  // LayerStack wants the top layer first.
  const below = imagesBelowChanged(ctx.layout!).map((p) => join(ctx.work.tree, p)).reverse();
  if (below.length === 0) return;
  const indexing = (async () => {
    const images = await openImages(below);
    try {
      return await new LayerStack(images.layers).sizeIndex();
    } finally {
      await images.close();
    }
  })();
  indexing.catch(() => undefined); // awaited (and reported) by repack; never an unhandled rejection
  ctx.sizesBelow = indexing;
  // Settled before the ISO tree is unmounted (resources are released last in, first out): open files would keep it busy.
  ctx.resources.push('size index of the images below', () => indexing.then(() => undefined, () => undefined));
}
