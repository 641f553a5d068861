/** Stage: reads the version, the profile's product and the VerifiedBase; writes what identifies the build on the installed system (VERSION, build-info.json in the rootfs view) and on the medium (.disk/info). */
import { basename } from 'node:path';
import { ISO_TREE, readFileBeneath, writeFileBeneath } from '../safe-path.js';
import { writeInRoot } from '../rootfs-path.js';
import { PRODUCT_DIR, VERSION_FILE } from '../product.js';
import type { BuildInputs } from '../context.js';
import type { Reporter } from '../pipeline/reporter.js';

interface BuildInfo {
  version: string;
  profile: string;
  product: string;
  baseIso: { name: string; sha256: string };
  buildTime: string;
  sourceDateEpoch: number;
}

export function productFilesStage(ctx: BuildInputs, base: { path: string; sha256: string }, rootfsView: string, task: Reporter): void {
  const info = buildInfo(ctx, base);
  writeInRoot(rootfsView, VERSION_FILE, `${ctx.version}\n`);
  writeInRoot(rootfsView, `${PRODUCT_DIR}/build-info.json`, `${JSON.stringify(info, null, 2)}\n`);
  // Read and written without following a link out of the tree (a hostile base's .disk/info -> a host file).
  const previous = readFileBeneath(ctx.work.tree, '.disk/info', ISO_TREE)?.toString('utf8').trim() ?? '';
  writeFileBeneath(ctx.work.tree, '.disk/info', `${ctx.profile.product} ${ctx.version}${previous ? ` (based on ${previous})` : ''}`, { what: ISO_TREE });
  task.title = `Write ${VERSION_FILE} (${ctx.version}), build-info.json and .disk/info`;
}

function buildInfo(ctx: BuildInputs, base: { path: string; sha256: string }): BuildInfo {
  return {
    version: ctx.version,
    profile: ctx.profile.name,
    product: ctx.profile.product,
    baseIso: { name: basename(base.path), sha256: base.sha256 },
    buildTime: new Date(ctx.epochSeconds * 1000).toISOString(),
    sourceDateEpoch: ctx.epochSeconds,
  };
}
