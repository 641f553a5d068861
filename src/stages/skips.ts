/**
 * Why a stage does not run, decided from the profile alone. Apart from the stage modules (they load only when the
 * pipeline reaches them): the pipeline's skips and the start-up program check (requiredPrograms) read these same rules.
 */
import type { BuildInputs } from '../context.js';
import type { HookPoint } from '../profile/schema-autoinstall.js';
import type { Profile } from '../profile/schema.js';

type Inputs = Pick<BuildInputs, 'profile'>;
type Packages = NonNullable<Profile['packages']>;

/** The profile's packages when they ask for any payload. */
export function payloadOf(ctx: Inputs): Packages | undefined {
  const p = ctx.profile.packages;
  return p !== undefined && (p.system.length > 0 || p.debs.length > 0 || p.images.length > 0 || p.charts.length > 0 || p.files.length > 0) ? p : undefined;
}

export function packagesSkip(ctx: Inputs): string | false {
  return payloadOf(ctx) ? false : 'no packages in the profile';
}

export function chrootCommandsSkip(ctx: Inputs): string | false {
  return ctx.profile.chroot.commands.length === 0 ? 'no chroot commands in the profile' : false;
}

export function hooksSkip(ctx: Inputs, point: HookPoint): string | false {
  return ctx.profile.hooks[point].length === 0 ? `no ${point} hooks in the profile` : false;
}

export function applyOverlaySkip(ctx: Inputs): string | false {
  return ctx.profile.overlay.length === 0 ? 'no overlay in the profile' : false;
}

export function bringupSkip(ctx: Inputs): string | false {
  if (ctx.profile.bringup === undefined) return 'no bringup in the profile';
  if (ctx.profile.packages === undefined) return 'bringup needs a packages section';
  return false;
}

export function autoinstallSkip(ctx: Inputs): string | false {
  return ctx.profile.autoinstall === undefined ? 'no autoinstall in the profile' : false;
}

export function bootMenuSkip(ctx: Inputs): string | false {
  if (ctx.profile.bootMenu === false) return 'bootMenu: false in the profile';
  return ctx.profile.autoinstall === undefined && ctx.profile.bootMenu === undefined ? 'no autoinstall or bootMenu in the profile' : false;
}
