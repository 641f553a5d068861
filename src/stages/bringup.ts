/** Stage: the first-boot bring-up (unit, script, k3s files and HelmChart manifests) written into the rootfs. */
import { writeBringup } from '../bringup/write.js';
import type { StageTask } from './task.js';

export const bringupStage: StageTask = {
  skip: (ctx) => (ctx.profile.bringup === undefined ? 'no bringup in the profile' : ctx.profile.packages === undefined ? 'bringup needs a packages section' : false),
  task: (ctx, task) => {
    const result = writeBringup({
      rootfs: ctx.rootfsView!,
      name: ctx.profile.name,
      product: ctx.profile.product,
      profileDir: ctx.profile.dir,
      packages: ctx.profile.packages!,
      bringup: ctx.profile.bringup!,
    });
    for (const f of result.files) ctx.log.line(`bringup: wrote ${f}`);
    task.title = `First-boot bring-up: novasphere-bringup.service, ${result.images} images${result.k3s ? `, k3s, ${result.charts} HelmChart manifests` : ''}`;
  },
};
