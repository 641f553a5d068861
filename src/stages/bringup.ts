/** Stage: reads the profile's `bringup` and `packages` and the rootfs view; writes the first-boot bring-up (unit, script, k3s files, HelmChart manifests) into the rootfs. */
import { writeBringup } from '../bringup/write.js';
import type { BuildInputs } from '../context.js';
import type { Reporter } from '../pipeline/reporter.js';

export function bringupStage(ctx: BuildInputs, rootfsView: string, task: Reporter): void {
  const { bringup, packages } = ctx.profile;
  if (bringup === undefined || packages === undefined) return; // bringupSkip (skips.ts) said so
  const result = writeBringup({
    rootfs: rootfsView,
    name: ctx.profile.name,
    product: ctx.profile.product,
    profileDir: ctx.profile.dir,
    packages,
    bringup,
  });
  for (const f of result.files) ctx.log.line(`bringup: wrote ${f}`);
  task.title = `First-boot bring-up: novasphere-bringup.service, ${result.images} images${result.k3s ? `, k3s, ${result.charts} HelmChart manifests` : ''}`;
}
