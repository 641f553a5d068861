/** Stage: reads the version, the profile's product and the VerifiedBase; writes what identifies the build on the installed system (VERSION, build-info.json in the rootfs view) and on the medium (.disk/info). */
import { mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { resolveInRoot } from '../rootfs-path.js';
import { PRODUCT_DIR } from '../product.js';
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
  writeInRoot(rootfsView, `${PRODUCT_DIR}/VERSION`, `${ctx.version}\n`);
  writeInRoot(rootfsView, `${PRODUCT_DIR}/build-info.json`, `${JSON.stringify(info, null, 2)}\n`);
  const diskInfo = join(ctx.work.tree, '.disk/info');
  const previous = existsSync(diskInfo) ? readFileSync(diskInfo, 'utf8').trim() : '';
  mkdirSync(dirname(diskInfo), { recursive: true });
  writeFileSync(diskInfo, `${ctx.profile.product} ${ctx.version}${previous ? ` (based on ${previous})` : ''}`);
  task.title = `Write ${PRODUCT_DIR}/VERSION (${ctx.version}), build-info.json and .disk/info`;
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

/** Write a file inside the rootfs without following a symlink out of it. */
function writeInRoot(root: string, inRoot: string, content: string): void {
  const dir = resolveInRoot(root, dirname(inRoot));
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, basename(inRoot));
  rmSync(path, { force: true });
  writeFileSync(path, content, { mode: 0o644 });
}
