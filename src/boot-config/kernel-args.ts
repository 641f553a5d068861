/**
 * Where arguments go on a kernel command line. Ubuntu (casper + subiquity): what follows ` --- ` is copied to the
 * installed system's boot loader, so the installer's own arguments go before it and the installed system's after it.
 * Debian live (live-boot): the arguments follow `boot=live components ...` (appended); `findiso=${iso_path}` and
 * `iso-scan/filename=${iso_path}` stay whole tokens where they are.
 */

/** What GRUB passes on as `autoinstall ds=nocloud;s=/cdrom/nocloud/` (GRUB needs the `;` escaped). */
export const GRUB_AUTOINSTALL_ARGS = ['autoinstall', 'ds=nocloud\\;s=/cdrom/nocloud/'];
export const ISOLINUX_AUTOINSTALL_ARGS = ['autoinstall', 'ds=nocloud;s=/cdrom/nocloud/'];

const SEPARATOR = /\s---(?=\s|$)/;

/** Inserts `args` before the ` ---` separator of a kernel command line (or at its end), skipping ones already there. */
export function addKernelArgs(cmdline: string, args: readonly string[]): string {
  const tokens = cmdline.split(/\s+/);
  const missing = args.filter((a) => !tokens.includes(a));
  if (missing.length === 0) return cmdline;
  const sep = SEPARATOR.exec(cmdline);
  if (sep === null) return `${cmdline.trimEnd()} ${missing.join(' ')}`;
  return `${cmdline.slice(0, sep.index)} ${missing.join(' ')}${cmdline.slice(sep.index)}`;
}

/** Appends `args` after the ` ---` separator (adding one when the line has none), skipping ones already after it. */
export function addInstalledSystemArgs(cmdline: string, args: readonly string[]): string {
  if (args.length === 0) return cmdline;
  const sep = SEPARATOR.exec(cmdline);
  const after = sep === null ? [] : cmdline.slice(sep.index + sep[0].length).split(/\s+/);
  const missing = args.filter((a) => !after.includes(a));
  if (missing.length === 0) return cmdline;
  return sep === null ? `${cmdline.trimEnd()} --- ${missing.join(' ')}` : `${cmdline.trimEnd()} ${missing.join(' ')}`;
}

/** A kernel that is not an operating system (memory testers): never a template, never given arguments. */
export function isUtilityKernel(path: string): boolean {
  return /memtest|mt86|hdt\.c32|\.c32$/i.test(path);
}
