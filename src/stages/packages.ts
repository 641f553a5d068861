/** Stages: the offline package payload (resolve, fetch, sign, inject) and its verification. */
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, IsoBuildError } from '../errors.js';
import { buildPayload, PAYLOAD_DIR } from '../packages/payload.js';
import { verifyPayload } from '../packages/verify.js';
import { resolveInRoot } from '../rootfs-path.js';
import type { BuildContext } from '../context.js';
import type { StageTask } from './task.js';

/** Where `packages.onIso` puts a copy of the payload in the ISO tree. */
export const ISO_PAYLOAD_DIR = 'novasphere/packages';

function hasPayload(ctx: BuildContext): boolean {
  const p = ctx.profile.packages;
  return p !== undefined && (p.system.length > 0 || p.debs.length > 0 || p.images.length > 0 || p.charts.length > 0 || p.files.length > 0);
}

export const packagesStage: StageTask = {
  skip: (ctx) => (hasPayload(ctx) ? false : 'no packages in the profile'),
  task: async (ctx, task) => {
    ctx.log.section('offline package payload');
    const packages = ctx.profile.packages!;
    const result = await buildPayload({
      name: ctx.profile.name,
      product: ctx.profile.product,
      version: ctx.version,
      profileDir: ctx.profile.dir,
      profileFile: ctx.profile.file,
      updateLock: process.env.ISO_BUILD_UPDATE_LOCK === '1',
      packages,
      rootfs: ctx.rootfsView!,
      cacheDir: ctx.cacheDir,
      epochSeconds: ctx.epochSeconds,
      log: ctx.log,
      progress: (text) => (task.output = text),
    });
    const c = result.closure;
    const fetched = c ? ` (closure ${c.debs.length}: ${c.downloaded} downloaded, ${c.fromCache} cached)` : '';
    task.title =
      `Package payload: ${result.debs.length} .debs${fetched}, ${result.images.length} images, ${result.charts.length} charts, ` +
      `signed by ${result.fingerprint.slice(-16)}`;
  },
};

export const packagesVerifyStage: StageTask = {
  skip: (ctx) => (hasPayload(ctx) ? false : 'no packages in the profile'),
  task: async (ctx, task) => {
    const dir = resolveInRoot(ctx.rootfsView!, PAYLOAD_DIR);
    const problems = await verifyPayload(dir, ctx.log);
    for (const p of problems) ctx.log.line(`payload: ${p.file}: ${p.problem}`);
    if (problems.length > 0) {
      throw new IsoBuildError(`package payload failed verification: ${problems.map((p) => `${p.file}: ${p.problem}`).join('; ')}`, {
        exitCode: ExitCode.Verification,
      });
    }
    // Copied from the verified rootfs payload here (not when it is built) so a rootfs from the stage cache gets it too.
    if (ctx.profile.packages!.onIso) {
      const target = join(ctx.work.tree, ISO_PAYLOAD_DIR);
      rmSync(target, { recursive: true, force: true });
      cpSync(dir, target, { recursive: true });
    }
    task.title = `Verify the package payload: ${PAYLOAD_DIR} OK${ctx.profile.packages!.onIso ? `, copied to /${ISO_PAYLOAD_DIR} on the ISO` : ''}`;
  },
};
