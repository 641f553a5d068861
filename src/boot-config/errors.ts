/** The one way a boot configuration is rejected: file and line named, exit 2, and the way around it. */
import { usageError, type IsoBuildError } from '../errors.js';

const SKIP_MENU_HINT =
  'set `bootMenu: false` in the profile to leave the boot menus as they are (then add `autoinstall` to the kernel command line yourself)';

export function bootConfigError(file: string, line: number, message: string): IsoBuildError {
  return usageError(`${file}:${line}: ${message}`, SKIP_MENU_HINT);
}

/** Includes deeper than this are a loop or a config iso-build was not meant for. */
const MAX_INCLUDE_DEPTH = 16;

/** Refuses to parse `file` again inside its own include chain `active` (outermost first), or past MAX_INCLUDE_DEPTH. */
export function checkIncludeChain(file: string, active: readonly string[]): void {
  if (active.length >= MAX_INCLUDE_DEPTH || active.includes(file)) {
    throw bootConfigError(active[active.length - 1] ?? file, 1, `includes nest too deep or loop (${[...active, file].join(' -> ')})`);
  }
}
