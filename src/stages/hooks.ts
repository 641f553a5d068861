/**
 * Stages: read the profile's hook scripts at one named point, the rootfs view and the ISO tree; run the scripts.
 * pre-customize / post-customize run inside the chroot
 * (a ChrootSession, always closed), pre-repack / post-build on the build host. Output goes to the build log;
 * a non-zero exit fails the build naming the hook and its exit code, and the build's usual teardown runs.
 */
import { chmodSync, copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { resolveInRoot } from '../rootfs-path.js';
import { ChrootSession } from '../tools/chroot.js';
import { runHostScript } from '../tools/host-script.js';
import { shellQuote } from '../tools/process.js';
import type { BuildInputs } from '../context.js';
import type { HookPoint } from '../profile/schema-autoinstall.js';
import type { Reporter } from '../pipeline/reporter.js';
import { IN_CHROOT, hookEnv } from '../hook-env.js';

const HOOK_DIR_IN_ROOT = '/tmp/iso-build-hooks';

function describe(point: HookPoint, i: number, script: string): string {
  return `hook ${point} #${i + 1} (${basename(script)})`;
}

function hookLimit(ctx: BuildInputs): { timeoutMs: number; timeoutHint: string } {
  return { timeoutMs: ctx.profile.timeouts.hook * 1000, timeoutHint: `the profile's timeouts.hook is ${ctx.profile.timeouts.hook} s` };
}

/** `rootfsView`: the rootfs the chroot hooks run in; the host hooks get it as ISO_BUILD_ROOTFS. */
export async function hooksStage(ctx: BuildInputs, point: HookPoint, rootfsView: string, task: Reporter): Promise<void> {
  const scripts = ctx.profile.hooks[point];
  if (IN_CHROOT.includes(point)) await runInChroot(ctx, point, rootfsView, scripts, (line) => (task.output = line));
  else await runOnHost(ctx, point, rootfsView, scripts, (line) => (task.output = line));
  task.title = `Run ${point} hooks: ${scripts.length} done`;
}

async function runOnHost(ctx: BuildInputs, point: HookPoint, rootfsView: string, scripts: string[], onLine: (line: string) => void): Promise<void> {
  for (const [i, script] of scripts.entries()) {
    ctx.log.section(describe(point, i, script));
    await runHostScript(script, {
      cwd: ctx.profile.dir,
      env: hookEnv(ctx, point, rootfsView),
      log: ctx.log,
      what: describe(point, i, script),
      onLine,
      ...hookLimit(ctx),
    });
  }
}

async function runInChroot(ctx: BuildInputs, point: HookPoint, root: string, scripts: string[], onLine: (line: string) => void): Promise<void> {
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
      await session.exec(shellQuote(`${HOOK_DIR_IN_ROOT}/${name}`), { env: hookEnv(ctx, point, root), what: describe(point, i, script), onLine, ...hookLimit(ctx) });
    }
  } finally {
    rmSync(hostDir, { recursive: true, force: true });
    await session.close();
  }
}
