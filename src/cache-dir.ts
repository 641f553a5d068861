/** The download cache (base ISOs, packages by sha256): --cache, else $ISO_BUILD_CACHE, else $XDG_CACHE_HOME/iso-build or ~/.cache/iso-build. */
import { join, resolve } from 'node:path';

export function resolveCacheDir(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(option ?? env.ISO_BUILD_CACHE ?? join(env.XDG_CACHE_HOME ?? join(env.HOME ?? '/root', '.cache'), 'iso-build'));
}
