/** The boot-configuration model: GRUB and isolinux/syslinux menus as real tools write them, and their edits. */
export { addKernelArgs, addInstalledSystemArgs, GRUB_AUTOINSTALL_ARGS, ISOLINUX_AUTOINSTALL_ARGS } from './kernel-args.js';
export { DEFAULT_AUTOMATIC_TIMEOUT, LineEdits, type ConfigReader, type MenuEdit } from './menu-edit.js';
export { editGrub, type GrubMenu } from './grub-edit.js';
export { grubEntries, parseGrub, type GrubEntry, type GrubNode } from './grub-parse.js';
export { editSyslinux, ISOLINUX_LABEL, type SyslinuxMenu } from './syslinux-edit.js';
export { parseSyslinux, syslinuxLabels, type SyslinuxLabel, type SyslinuxNode } from './syslinux-parse.js';
export { editGrubMenu, editIsolinuxMenu, editedTexts, grubIncludesOnly, loadGrubMenu, loadSyslinuxMenu, syslinuxIncludesOnly } from './load.js';
export { SKIP_MENU_HINT } from './errors.js';
