/**
 * The documented hook environment, in one place: the hooks stage passes it to the scripts, and the stage-cache key
 * hashes what the pre-customize hooks see of it (so a value a hook can write into the rootfs is never served stale).
 */
import type { BuildInputs } from './context.js';
import type { HookPoint } from './profile/schema-autoinstall.js';

/** Hooks that run inside the chroot (the rest run on the build host). */
export const IN_CHROOT: readonly HookPoint[] = ['pre-customize', 'post-customize'];

type HookInputs = Pick<BuildInputs, 'version' | 'profile' | 'work' | 'outputIso'> & Partial<Pick<BuildInputs, 'childEnv'>>;

/** `ISO_BUILD_ROOTFS` is `/` inside the chroot; host hooks also get the build's child environment (TZ of a second build). */
export function hookEnv(ctx: HookInputs, point: HookPoint, rootfsView: string): Record<string, string> {
  const inChroot = IN_CHROOT.includes(point);
  return {
    ...(inChroot ? {} : ctx.childEnv),
    ISO_BUILD_HOOK: point,
    ISO_BUILD_VERSION: ctx.version,
    ISO_BUILD_PROFILE: ctx.profile.name,
    ISO_BUILD_PROFILE_DIR: ctx.profile.dir,
    ISO_BUILD_ROOTFS: inChroot ? '/' : rootfsView,
    ISO_BUILD_ISO_TREE: ctx.work.tree,
    ISO_BUILD_OUTPUT_ISO: ctx.outputIso,
  };
}
