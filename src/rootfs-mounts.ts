/**
 * The mounted rootfs stack of a build: the squashfs images of the ISO tree (loop-mounted read-only), the read-only
 * directories above them (the cached layer) and an overlay with this build's upper dir at work.merged. Owned by the
 * build's ResourceStack: whatever happens, it is unmounted once.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { imagesUnderView, type RootfsLayout } from './layout.js';
import { packageManifest } from './package-list.js';
import { mount, unmount } from './tools/mount.js';
import type { BuildInputs } from './context.js';

/** The customized layer as the stage cache holds it, and the view above it where the build goes on. */
export interface CachedRootfs {
  /** The cached layer (read-only: the lower of the `changes` overlay). */
  layer: string;
  /** The rootfs view: the stack with the cached layer and work.changes as its upper dir. */
  view: string;
  /** The package list at the cache point, read in the background. */
  packagesAtCachePoint: Promise<string | undefined>;
}

export class RootfsMounts {
  private images: string[] = [];
  private imageDirs: string[] = [];
  private overlay = false;
  private closing?: Promise<void>;

  private constructor(private readonly ctx: BuildInputs) {}

  /** A stack with nothing mounted yet, registered with the build's resources. */
  static create(ctx: BuildInputs): RootfsMounts {
    const mounts = new RootfsMounts(ctx);
    ctx.resources.push('layered rootfs mounts', () => mounts.close());
    return mounts;
  }

  /**
   * `images`: squashfs files of the ISO tree, bottom first; `dirs`: read-only directories above them; `upper`: the upper
   * dir. Returns the view (work.merged). Replacing the overlay (the stage-cache save puts the cached layer under it)
   * keeps the image mounts: they are the same images, and a fresh mount would decompress again what was read already.
   */
  async mount(images: string[], dirs: string[], upper: string): Promise<string> {
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
    return ctx.work.merged;
  }

  /** Unmounts the overlay and keeps the squashfs images under it mounted (for the next mount). */
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
    for (let dir = this.imageDirs.pop(); dir !== undefined; dir = this.imageDirs.pop()) {
      await unmount(dir, this.ctx.log);
      this.images.pop();
    }
  }
}

/**
 * The view for everything after the stage-cache point: the base layers the cached layer sits on (if any), the
 * cached layer itself (read-only), and an empty upper dir, `changes`, that collects this build's changes.
 */
export async function mountChanges(ctx: BuildInputs, layout: RootfsLayout, mounts: RootfsMounts, layer: string): Promise<CachedRootfs> {
  rmSync(ctx.work.changes, { recursive: true, force: true });
  mkdirSync(ctx.work.changes, { recursive: true });
  const view = await mounts.mount(imagesUnderView(layout), [layer], ctx.work.changes);
  const packagesAtCachePoint = packageManifest(view);
  packagesAtCachePoint.catch(() => undefined); // awaited (and reported) by repack; never an unhandled rejection
  return { layer, view, packagesAtCachePoint };
}
