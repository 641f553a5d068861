/** The boot-configuration model: GRUB and isolinux/syslinux menus as real tools write them, and their edits. */
export { addKernelArgs } from './kernel-args.js';
export { LineEdits, type ConfigReader, type MenuEdit } from './menu-edit.js';
export { editGrub, type GrubMenu } from './grub-edit.js';
export { grubEntries } from './grub-parse.js';
export { editSyslinux, type SyslinuxMenu } from './syslinux-edit.js';
export { syslinuxLabels } from './syslinux-parse.js';
export { editGrubMenu, editIsolinuxMenu, editedTexts, grubIncludesOnly, loadGrubMenu, loadSyslinuxMenu } from './load.js';
