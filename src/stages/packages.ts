/** Stages: read the profile's packages, the cache dir and the rootfs view; build the offline package payload (resolve, fetch, sign, inject) into the rootfs and verify it. */
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, IsoBuildError } from '../errors.js';
import { buildPayload } from '../packages/payload.js';
import { ISO_PAYLOAD_DIR, PAYLOAD_DIR } from '../product.js';
import { verifyPayload } from '../packages/verify.js';
import { readPayloadManifest, type PayloadItem } from '../packages/manifest.js';
import { resolveInRoot } from '../rootfs-path.js';
import type { BuildInputs } from '../context.js';
import { payloadOf } from './skips.js';
import { liveOutput } from '../output-listr.js';
import type { Reporter } from '../pipeline/reporter.js';

export async function packagesStage(ctx: BuildInputs, rootfsView: string, task: Reporter): Promise<void> {
  const packages = payloadOf(ctx);
  if (packages === undefined) return;
  ctx.log.section('offline package payload');
  const result = await buildPayload({
    name: ctx.profile.name,
    product: ctx.profile.product,
    version: ctx.version,
    profileDir: ctx.profile.dir,
    profileFile: ctx.profile.file,
    updateLock: process.env.ISO_BUILD_UPDATE_LOCK === '1',
    packages,
    rootfs: rootfsView,
    cacheDir: ctx.cacheDir,
    gpgHomeDir: join(ctx.work.root, 'gpg'),
    epochSeconds: ctx.epochSeconds,
    log: ctx.log,
    progress: {
      line: (text) => (task.output = text),
      // listr2's default renderer redraws the output line in place; the fallback (CI, no TTY) prints each one.
      ...(liveOutput() ? { status: (text: string) => void (text && (task.output = text)) } : {}),
    },
  });
  const c = result.closure;
  const fetched = c ? ` (closure ${c.debs.length}: ${c.downloaded} downloaded, ${c.fromCache} cached)` : '';
  task.title =
    `Package payload: ${result.debs.length} .debs${fetched}, ${result.images.length} images, ${result.charts.length} charts, ` +
    `signed by ${result.fingerprint.slice(-16)}`;
}

/** Verifies the payload in the rootfs (built now or brought by the stage cache); returns its items (manifest.json). */
export async function packagesVerifyStage(ctx: BuildInputs, rootfsView: string, task: Reporter): Promise<PayloadItem[]> {
  const packages = payloadOf(ctx);
  if (packages === undefined) return [];
  const dir = resolveInRoot(rootfsView, PAYLOAD_DIR);
  const problems = await verifyPayload(dir, ctx.log);
  for (const p of problems) ctx.log.line(`payload: ${p.file}: ${p.problem}`);
  if (problems.length > 0) {
    throw new IsoBuildError(`package payload failed verification: ${problems.map((p) => `${p.file}: ${p.problem}`).join('; ')}`, {
      exitCode: ExitCode.Verification,
    });
  }
  // Copied from the verified rootfs payload here (not when it is built) so a rootfs from the stage cache gets it too.
  if (packages.onIso) {
    const target = join(ctx.work.tree, ISO_PAYLOAD_DIR);
    rmSync(target, { recursive: true, force: true });
    cpSync(dir, target, { recursive: true });
  }
  task.title = `Verify the package payload: ${PAYLOAD_DIR} OK${packages.onIso ? `, copied to /${ISO_PAYLOAD_DIR} on the ISO` : ''}`;
  return readPayloadManifest(dir).items ?? [];
}
