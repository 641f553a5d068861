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
import { progressReporter, type StageTask } from './task.js';
import type { BuildContext } from '../context.js';

export const unpackRootfsStage: StageTask = {
  task: async (ctx, task) => {
    const layout = ctx.layout!;
    rmSync(ctx.work.layer, { recursive: true, force: true });
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
      await mountStack(ctx, [...layout.lowers, layout.squashfs], [], ctx.work.layer);
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
    await mountStack(ctx, layout.lowers, [], ctx.work.layer);
  },
};

/**
 * The view for everything after the stage-cache point: the base layers the cached layer sits on (if any), the
 * cached layer itself (read-only), and an empty upper dir, `changes`, that collects this build's changes.
 */
export async function mountChanges(ctx: BuildContext): Promise<void> {
  const layout = ctx.layout!;
  const images = layout.strategy === 'layer' ? [...layout.lowers, layout.squashfs] : layout.lowers;
  rmSync(ctx.work.changes, { recursive: true, force: true });
  mkdirSync(ctx.work.changes, { recursive: true });
  await mountStack(ctx, images, [ctx.cachedLayer!], ctx.work.changes);
}

/**
 * Mount `images` (squashfs files of the ISO tree, bottom first, read-only) and then `dirs` (read-only directories)
 * under an overlayfs whose upper dir is `upper`.
 */
async function mountStack(ctx: BuildContext, images: string[], dirs: string[], upper: string): Promise<void> {
  const mounted: string[] = [];
  const close = async (): Promise<void> => {
    while (mounted.length) await unmount(mounted.pop()!, ctx.log);
  };
  ctx.closeRootfsView = close;
  ctx.resources.push('layered rootfs mounts', close);
  const lowerDirs: string[] = [];
  for (const [i, layer] of images.entries()) {
    const dir = join(ctx.work.lowers, String(i));
    mkdirSync(dir, { recursive: true });
    await mount({ target: dir, args: ['-t', 'squashfs', '-o', 'ro,loop', join(ctx.work.tree, layer)], what: layer }, ctx.log);
    mounted.push(dir);
    lowerDirs.unshift(dir); // overlayfs wants the top-most lower first
  }
  for (const dir of dirs) lowerDirs.unshift(dir);
  rmSync(ctx.work.overlayWork, { recursive: true, force: true });
  mkdirSync(ctx.work.overlayWork, { recursive: true });
  mkdirSync(ctx.work.merged, { recursive: true });
  // uuid=off: no random trusted.overlay.uuid xattr in the layer (it would make every build differ).
  // redirect_dir=off, metacopy=off: every change is whole in the upper dir (a renamed directory is copied, a chmod
  // copies the data), which is what packing the upper dir as a layer or merging it into a squashfs needs.
  const options = `lowerdir=${lowerDirs.join(':')},upperdir=${upper},workdir=${ctx.work.overlayWork},uuid=off,redirect_dir=off,metacopy=off`;
  await mount({ target: ctx.work.merged, args: ['-t', 'overlay', 'overlay', '-o', options], what: 'layer stack' }, ctx.log);
  mounted.push(ctx.work.merged);
  ctx.rootfsView = ctx.work.merged;
}
