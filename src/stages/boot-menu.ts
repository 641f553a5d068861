/**
 * Stage: reads the profile's autoinstall and bootMenu, the ISO tree and its boot setup; edits its boot menus. With `autoinstall`, a new first entry (a copy of the base's first OS entry) boots with
 * `autoinstall ds=nocloud;s=/cdrom/nocloud/`; the original entries stay below it. The profile's kernel arguments go
 * into every entry, its timeout / default replace the base's (a menu that would wait forever gets a timeout). Every
 * menu a firmware path reads is edited (src/boot-config/iso-menus.ts); runs before md5sum.txt is regenerated.
 */
import { editIsoBootMenus } from '../boot-config/iso-menus.js';
import type { MenuEdit } from '../boot-config/menu-edit.js';
import { renderTemplate } from '../profile/template.js';
import type { BuildInputs } from '../context.js';
import type { Reporter } from '../pipeline/reporter.js';

/** The El Torito EFI image when it is a file of the tree (`-e /boot/grub/efi.img`), not an appended partition. */
export function efiImageInTree(bootSetup: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < bootSetup.length; i++) {
    const arg = bootSetup[i + 1]!;
    if (bootSetup[i] === '-e' && !arg.startsWith('--interval')) return arg.replace(/^\/+/, '');
  }
  return undefined;
}

export async function bootMenuStage(ctx: BuildInputs, bootSetup: readonly string[], task: Reporter): Promise<void> {
  const menu = ctx.profile.bootMenu === false ? undefined : ctx.profile.bootMenu;
  const vars = { name: ctx.profile.name, product: ctx.profile.product, version: ctx.version };
  const title = renderTemplate(menu?.title ?? 'Install {{product}} (automatic)', vars).replace(/[\r\n]/g, ' ');
  const edit: MenuEdit = {
    entry: ctx.profile.autoinstall === undefined ? undefined : { title },
    kernelArgs: menu?.kernelArgs ?? [],
    installedKernelArgs: menu?.installedKernelArgs ?? [],
    timeout: menu?.timeout,
    default: menu?.default,
  };
  const result = await editIsoBootMenus(ctx.work.tree, edit, { efiImage: efiImageInTree(bootSetup), log: ctx.log });
  for (const rel of result.edited) ctx.log.line(`boot menu: edited ${rel}`);
  for (const rel of result.leftAlone) ctx.log.line(`boot menu: ${rel} only includes another menu: left as it is`);
  if (result.edited.length === 0) ctx.log.line('boot menu: warning: the base ISO has no GRUB or isolinux menu to edit');
  task.title = `Edit the boot menu: ${result.edited.join(', ') || 'no menu found'}`;
}
