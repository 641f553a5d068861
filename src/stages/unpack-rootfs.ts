/**
 * Stage 4: unpack the squashfs to customize. For layered casper the layer is unpacked as an overlayfs upper
 * directory over the read-only lower layers, so the chroot sees the whole system while every change (including
 * deletions, as whiteouts) lands in the layer alone.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { mount, unmount } from '../tools/mount.js';
import { unsquash } from '../tools/squashfs.js';
import { cachedRootfs, canLinkCache, copyTree, rootfsCacheKey } from '../stage-cache.js';
import { progressReporter, type StageTask } from './task.js';
import type { BuildContext } from '../context.js';

export const unpackRootfsStage: StageTask = {
  title: 'Unpack rootfs',
  task: async (ctx, task) => {
    const layout = ctx.layout!;
    rmSync(ctx.work.layer, { recursive: true, force: true });
    ctx.rootfsCacheKey = rootfsCacheKey(ctx);
    const cached = cachedRootfs(ctx.work.root, ctx.rootfsCacheKey);
    if (cached) {
      task.title = `Reuse the customized rootfs from the stage cache (${ctx.rootfsCacheKey.slice(0, 12)})`;
      await copyTree(cached, ctx.work.layer, ctx.log, canLinkCache(ctx));
      ctx.rootfsFromCache = true;
      if (layout.strategy === 'layer') await mountLayerStack(ctx, [...layout.lowers, layout.squashfs]);
      else if (layout.lowers.length) await mountLayerStack(ctx, layout.lowers);
      else ctx.rootfsView = ctx.work.layer;
      return;
    }
    if (layout.strategy === 'layer') {
      // Nothing to unpack: the whole stack is mounted read-only and the changes collect in an empty upper dir.
      task.title = `Mount ${layout.squashfs} and the layers below it; changes go to a new layer`;
      mkdirSync(ctx.work.layer, { recursive: true });
      await mountLayerStack(ctx, [...layout.lowers, layout.squashfs]);
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
    await mountLayerStack(ctx, layout.lowers);
  },
};

/** Mount `layers` (bottom first, read-only) under an overlayfs whose upper dir is the layer being edited. */
async function mountLayerStack(ctx: BuildContext, layers: string[]): Promise<void> {
  const mounted: string[] = [];
  const close = async (): Promise<void> => {
    while (mounted.length) await unmount(mounted.pop()!, ctx.log);
  };
  ctx.closeRootfsView = close;
  ctx.resources.push('layered rootfs mounts', close);
  const lowerDirs: string[] = [];
  for (const [i, layer] of layers.entries()) {
    const dir = join(ctx.work.lowers, String(i));
    mkdirSync(dir, { recursive: true });
    await mount({ target: dir, args: ['-t', 'squashfs', '-o', 'ro,loop', join(ctx.work.tree, layer)], what: layer }, ctx.log);
    mounted.push(dir);
    lowerDirs.unshift(dir); // overlayfs wants the top-most lower first
  }
  rmSync(ctx.work.overlayWork, { recursive: true, force: true });
  mkdirSync(ctx.work.overlayWork, { recursive: true });
  mkdirSync(ctx.work.merged, { recursive: true });
  // uuid=off: no random trusted.overlay.uuid xattr in the layer (it would make every build differ).
  const options = `lowerdir=${lowerDirs.join(":")},upperdir=${ctx.work.layer},workdir=${ctx.work.overlayWork},uuid=off`;
  await mount({ target: ctx.work.merged, args: ['-t', 'overlay', 'overlay', '-o', options], what: 'layer stack' }, ctx.log);
  mounted.push(ctx.work.merged);
  ctx.rootfsView = ctx.work.merged;
}
