/**
 * Stage: reads the extracted ISO tree and the profile's base/rootfs settings; produces the RootfsLayout (src/layout.ts):
 * the packing of the squashfs this build writes (`auto`: the base's own), and whether a repack can merge into the
 * base's squashfs (packed the same way: base-compression.ts) or must compress the whole rootfs again, said in the log
 * with both packings.
 */
import { join } from 'node:path';
import { packsLike, resolvePacking } from '../base-compression.js';
import { detectLayout, withStrategy, type RootfsLayout } from '../layout.js';
import type { BuildInputs } from '../context.js';
import type { Reporter } from '../pipeline/reporter.js';

export async function detectLayoutStage(ctx: BuildInputs, task: Reporter): Promise<RootfsLayout> {
  const detected = withStrategy(detectLayout(ctx.work.tree, ctx.profile.base.layout, ctx.profile.base.rootfsLayer), ctx.profile.rootfs.strategy, ctx.profile.name);
  const resolved = await resolvePacking(join(ctx.work.tree, detected.squashfs), ctx.profile.rootfs);
  if (resolved.note) ctx.log.line(resolved.note);
  let layout: RootfsLayout = { ...detected, packing: resolved.packing };
  if (layout.strategy === 'repack' && layout.lowers.length === 0) {
    const { same, build } = await packsLike(resolved.baseImage, resolved.packing, ctx.work.root, ctx.log);
    if (same) {
      ctx.log.line(`rootfs: ${layout.squashfs} is packed like this build packs (${resolved.base}): the changes are merged into it, its compressed blocks reused`);
      layout = { ...layout, mergeIntoBase: true };
    } else {
      ctx.log.line(
        `rootfs: ${layout.squashfs} is packed ${resolved.base}; this build packs ${build} (rootfs.compression${ctx.profile.rootfs.compressionLevel ? '/compressionLevel' : ''}): ` +
          "the whole rootfs is unpacked and compressed again; with the base's compression (rootfs.compression: auto) only the changes would be",
      );
    }
  }
  const lowers = layout.lowers.length ? ` over ${layout.lowers.join(', ')}` : '';
  const why = layout.kind === 'casper-layered' ? ` (installed system: ${layout.installSourceId ?? 'profile choice'})` : '';
  const what = layout.newLayer
    ? `new layer ${layout.newLayer} on ${layout.squashfs}${lowers}`
    : `customizing ${layout.squashfs}${lowers}${layout.mergeIntoBase ? ', changes merged into it' : ''}`;
  task.title = `Detect rootfs layout: ${layout.kind}, ${what}${why}`;
  ctx.log.line(`layout ${layout.kind}, strategy ${layout.strategy}: ${what}${why}`);
  return layout;
}
