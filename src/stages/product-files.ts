/** Stage: what identifies the build on the installed system and on the medium. */
import { mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { resolveInRoot } from '../rootfs-path.js';
import type { BuildContext } from '../context.js';
import type { StageTask } from './task.js';

export const PRODUCT_DIR = '/opt/novasphere';

export interface BuildInfo {
  version: string;
  profile: string;
  product: string;
  baseIso: { name: string; sha256: string };
  buildTime: string;
  sourceDateEpoch: number;
}

export const productFilesStage: StageTask = {
  task: (ctx, task) => {
    const info = buildInfo(ctx);
    writeInRoot(ctx.rootfsView!, `${PRODUCT_DIR}/VERSION`, `${ctx.version}\n`);
    writeInRoot(ctx.rootfsView!, `${PRODUCT_DIR}/build-info.json`, `${JSON.stringify(info, null, 2)}\n`);
    const diskInfo = join(ctx.work.tree, '.disk/info');
    const previous = existsSync(diskInfo) ? readFileSync(diskInfo, 'utf8').trim() : '';
    mkdirSync(dirname(diskInfo), { recursive: true });
    writeFileSync(diskInfo, `${ctx.profile.product} ${ctx.version}${previous ? ` (based on ${previous})` : ''}`);
    task.title = `Write ${PRODUCT_DIR}/VERSION (${ctx.version}), build-info.json and .disk/info`;
  },
};

export function buildInfo(ctx: BuildContext): BuildInfo {
  return {
    version: ctx.version,
    profile: ctx.profile.name,
    product: ctx.profile.product,
    baseIso: { name: basename(ctx.base!.path), sha256: ctx.base!.sha256 },
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
