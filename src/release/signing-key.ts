/** Which gpg key signs a release, checked before any work (a light module: the build loads it at start-up). */
import { signingKeyFingerprint } from '../tools/gpg.js';
import type { Profile } from '../profile/schema.js';

/** The signing key: ISO_BUILD_GPG_KEY, else the profile's release.gpgKey. */
export function signingKey(ctx: { profile: Profile }): string | undefined {
  const env = process.env.ISO_BUILD_GPG_KEY;
  if (env) return env;
  return ctx.profile.release?.gpgKey;
}

/** Before building: a named key that gpg does not have fails now, not after the whole build. */
export async function checkSigningKey(profile: Profile): Promise<void> {
  const key = signingKey({ profile });
  if (key) await signingKeyFingerprint(key);
}
