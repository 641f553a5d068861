/**
 * Stage: reads the extracted ISO tree and the profile's base/rootfs settings; produces the RootfsLayout (src/layout.ts),
 * including whether a repack can merge into the base's squashfs (same packing: base-compression.ts) or must compress the
 * whole rootfs again, said in the log with both packings.
 */
import { join } from 'node:path';
import { compareBasePacking } from '../base-compression.js';
import { detectLayout, withStrategy, type RootfsLayout } from '../layout.js';
import type { BuildInputs } from '../context.js';
import type { Reporter } from '../pipeline/reporter.js';

export async function detectLayoutStage(ctx: BuildInputs, task: Reporter): Promise<RootfsLayout> {
  const detected = detectLayout(ctx.work.tree, ctx.profile.base.layout, ctx.profile.base.rootfsLayer);
  let layout = withStrategy(detected, ctx.profile.rootfs.strategy, ctx.profile.name);
  if (layout.strategy === 'repack' && layout.lowers.length === 0) layout = await withMergeDecision(ctx, layout);
  const lowers = layout.lowers.length ? ` over ${layout.lowers.join(', ')}` : '';
  const why = layout.kind === 'casper-layered' ? ` (installed system: ${layout.installSourceId ?? 'profile choice'})` : '';
  const what = layout.newLayer
    ? `new layer ${layout.newLayer} on ${layout.squashfs}${lowers}`
    : `customizing ${layout.squashfs}${lowers}${layout.mergeIntoBase ? ', changes merged into it' : ''}`;
  task.title = `Detect rootfs layout: ${layout.kind}, ${what}${why}`;
  ctx.log.line(`layout ${layout.kind}, strategy ${layout.strategy}: ${what}${why}`);
  return layout;
}

/** A single squashfs packed like this build packs: merged into; otherwise unpacked and compressed again (and why). */
async function withMergeDecision(ctx: BuildInputs, layout: RootfsLayout): Promise<RootfsLayout> {
  const { compression, compressionLevel } = ctx.profile.rootfs;
  const packing = await compareBasePacking(join(ctx.work.tree, layout.squashfs), ctx.work.root, { compression, level: compressionLevel }, ctx.log);
  if (packing.same) {
    ctx.log.line(`rootfs: ${layout.squashfs} is packed like this build packs (${packing.base}): the changes are merged into it, its compressed blocks reused`);
    return { ...layout, mergeIntoBase: true };
  }
  ctx.log.line(
    `rootfs: ${layout.squashfs} is packed ${packing.base}; this build packs ${packing.build} (rootfs.compression${compressionLevel ? '/compressionLevel' : ''}): ` +
      'the whole rootfs is unpacked and compressed again; with the base\'s compressor only the changes would be',
  );
  return layout;
}
