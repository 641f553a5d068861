/**
 * Stages: the profile's hook scripts at one named point. pre-customize / post-customize run inside the chroot
 * (a ChrootSession, always closed), pre-repack / post-build on the build host. Output goes to the build log;
 * a non-zero exit fails the build naming the hook and its exit code, and the build's usual teardown runs.
 */
import { accessSync, chmodSync, constants, copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { resolveInRoot } from '../rootfs-path.js';
import { ChrootSession } from '../tools/chroot.js';
import { run, shellQuote } from '../tools/process.js';
import type { BuildContext } from '../context.js';
import type { HookPoint } from '../profile/schema-autoinstall.js';
import type { StageTask } from './task.js';

const IN_CHROOT: readonly HookPoint[] = ['pre-customize', 'post-customize'];
const HOOK_DIR_IN_ROOT = '/tmp/iso-build-hooks';

/** The documented hook environment. `ISO_BUILD_ROOTFS` is `/` inside the chroot. */
export function hookEnv(ctx: BuildContext, point: HookPoint): Record<string, string> {
  return {
    ISO_BUILD_HOOK: point,
    ISO_BUILD_VERSION: ctx.version,
    ISO_BUILD_PROFILE: ctx.profile.name,
    ISO_BUILD_PROFILE_DIR: ctx.profile.dir,
    ISO_BUILD_ROOTFS: IN_CHROOT.includes(point) ? '/' : (ctx.rootfsView ?? ''),
    ISO_BUILD_ISO_TREE: ctx.work.tree,
    ISO_BUILD_OUTPUT_ISO: ctx.outputIso,
  };
}

function describe(point: HookPoint, i: number, script: string): string {
  return `hook ${point} #${i + 1} (${basename(script)})`;
}

export function hookStage(point: HookPoint): StageTask {
  return {
    skip: (ctx) => (ctx.profile.hooks[point].length === 0 ? `no ${point} hooks in the profile` : false),
    task: async (ctx, task) => {
      const scripts = ctx.profile.hooks[point];
      if (IN_CHROOT.includes(point)) await runInChroot(ctx, point, scripts, (line) => (task.output = line));
      else await runOnHost(ctx, point, scripts, (line) => (task.output = line));
      task.title = `Run ${point} hooks: ${scripts.length} done`;
    },
  };
}

async function runOnHost(ctx: BuildContext, point: HookPoint, scripts: string[], onLine: (line: string) => void): Promise<void> {
  for (const [i, script] of scripts.entries()) {
    ctx.log.section(describe(point, i, script));
    const executable = isExecutable(script);
    await run(executable ? script : '/bin/sh', executable ? [] : [script], {
      cwd: ctx.profile.dir,
      env: hookEnv(ctx, point),
      log: ctx.log,
      what: describe(point, i, script),
      onLine,
    });
  }
}

async function runInChroot(ctx: BuildContext, point: HookPoint, scripts: string[], onLine: (line: string) => void): Promise<void> {
  const root = ctx.rootfsView!;
  const session = await ChrootSession.open(root, ctx.log);
  ctx.resources.push(`chroot session (${point} hooks)`, () => session.close());
  const hostDir = resolveInRoot(root, HOOK_DIR_IN_ROOT);
  try {
    mkdirSync(hostDir, { recursive: true, mode: 0o700 });
    for (const [i, script] of scripts.entries()) {
      ctx.log.section(describe(point, i, script));
      const name = `${i + 1}-${basename(script)}`;
      copyFileSync(script, join(hostDir, name));
      chmodSync(join(hostDir, name), 0o755);
      await session.exec(shellQuote(`${HOOK_DIR_IN_ROOT}/${name}`), { env: hookEnv(ctx, point), what: describe(point, i, script), onLine });
    }
  } finally {
    rmSync(hostDir, { recursive: true, force: true });
    await session.close();
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
