/** Stage: reads the extracted ISO tree and the profile's base/rootfs settings; produces the RootfsLayout (src/layout.ts). */
import { detectLayout, withStrategy, type RootfsLayout } from '../layout.js';
import type { BuildInputs } from '../context.js';
import type { Reporter } from '../pipeline/reporter.js';

export function detectLayoutStage(ctx: BuildInputs, task: Reporter): RootfsLayout {
  const detected = detectLayout(ctx.work.tree, ctx.profile.base.layout, ctx.profile.base.rootfsLayer);
  const layout = withStrategy(detected, ctx.profile.rootfs.strategy, ctx.profile.name);
  const lowers = layout.lowers.length ? ` over ${layout.lowers.join(', ')}` : '';
  const why = layout.kind === 'casper-layered' ? ` (installed system: ${layout.installSourceId ?? 'profile choice'})` : '';
  const what = layout.newLayer ? `new layer ${layout.newLayer} on ${layout.squashfs}${lowers}` : `customizing ${layout.squashfs}${lowers}`;
  task.title = `Detect rootfs layout: ${layout.kind}, ${what}${why}`;
  ctx.log.line(`layout ${layout.kind}, strategy ${layout.strategy}: ${what}${why}`);
  return layout;
}
