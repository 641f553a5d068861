/** Stages: the offline package payload (resolve, fetch, sign, inject) and its verification. */
import { buildPayload } from '../packages/payload.js';
import type { BuildContext } from '../context.js';
import type { StageTask } from './task.js';

function hasPayload(ctx: BuildContext): boolean {
  const p = ctx.profile.packages;
  return p !== undefined && (p.system.length > 0 || p.debs.length > 0 || p.images.length > 0 || p.charts.length > 0);
}

export const packagesStage: StageTask = {
  title: 'Build the offline package payload',
  skip: (ctx) => (hasPayload(ctx) ? false : 'no packages in the profile'),
  task: async (ctx, task) => {
    ctx.log.section('offline package payload');
    const result = await buildPayload({
      name: ctx.profile.name,
      product: ctx.profile.product,
      version: ctx.version,
      profileDir: ctx.profile.dir,
      packages: ctx.profile.packages!,
      rootfs: ctx.rootfsView!,
      cacheDir: ctx.cacheDir,
      epochSeconds: ctx.epochSeconds,
      log: ctx.log,
      progress: (text) => (task.output = text),
    });
    const c = result.closure;
    const fetched = c ? `, ${c.debs.length} resolved: ${c.downloaded} downloaded, ${c.fromCache} from cache` : '';
    task.title = `Package payload: ${result.debs.length} .debs${fetched}, signed by ${result.fingerprint.slice(-16)}`;
  },
};

export const packagesVerifyStage: StageTask = {
  title: 'Verify the package payload',
  skip: (ctx) => (hasPayload(ctx) ? false : 'no packages in the profile'),
  task: () => undefined,
};
