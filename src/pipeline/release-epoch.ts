/**
 * The release epoch (SOURCE_DATE_EPOCH): from the environment, else the commit time of the release tag (the version, if
 * it is a tag in the profile's git checkout) or of HEAD, else the profile's `sourceDateEpoch`, else now (not
 * reproducible, so said loudly: a warning line on stderr, never silently).
 */
import { usageError } from '../errors.js';
import { warning } from '../output.js';
import { commitTime } from '../tools/git.js';
import type { Profile } from '../profile/schema.js';

export async function sourceDateEpoch(
  profile: Pick<Profile, 'dir' | 'sourceDateEpoch'>,
  version: string,
  env: NodeJS.ProcessEnv = process.env,
  warn: (text: string) => void = warning,
): Promise<number> {
  const fromEnv = env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!/^\d+$/.test(fromEnv)) throw usageError(`SOURCE_DATE_EPOCH="${fromEnv}" is not a number of seconds`);
    return Number(fromEnv);
  }
  for (const rev of [`refs/tags/${version}^{commit}`, 'HEAD']) {
    const time = await commitTime(profile.dir, rev);
    if (time !== undefined) return time;
  }
  if (profile.sourceDateEpoch !== undefined) return profile.sourceDateEpoch;
  const now = Math.floor(Date.now() / 1000);
  warn(
    `SOURCE_DATE_EPOCH: git gives no commit time for ${version} or HEAD in ${profile.dir}, and the profile sets no ` +
      `sourceDateEpoch: using the current time (${now}); this build is not reproducible. ` +
      'Set SOURCE_DATE_EPOCH, build from a git checkout, or set sourceDateEpoch in the profile',
  );
  return now;
}
