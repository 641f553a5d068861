/**
 * The boot menus of an ISO tree, as each firmware path reads them: GRUB's boot/grub/grub.cfg (BIOS and UEFI),
 * boot/grub/loopback.cfg (GRUB booting the ISO file), GRUB configs under EFI/, isolinux/syslinux for BIOS on
 * isolinux hybrids, and the GRUB config inside the El Torito EFI image file when UEFI boots that. A file that only
 * hands over to another one (loopback.cfg = `source /boot/grub/grub.cfg`, live-build's efi.img grub.cfg =
 * `configfile ($root)/boot/grub/grub.cfg`) is left alone: the file it reaches is edited once, as its own menu.
 */
import { existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { ISO_TREE, resolveBeneath, writeFileBeneath } from '../safe-path.js';
import { listFatFiles, readFatFile, replaceFatFile } from '../tools/mtools.js';
import { editGrub } from './grub-edit.js';
import { editedTexts, grubIncludesOnly, loadGrubMenu, loadSyslinuxMenu } from './load.js';
import { LineEdits, type ConfigReader, type MenuEdit } from './menu-edit.js';
import { editSyslinux } from './syslinux-edit.js';
import type { BuildLog } from '../build-log.js';

const GRUB_MENUS = ['boot/grub/grub.cfg', 'boot/grub/loopback.cfg'];
/** Where isolinux.bin / syslinux look for their config (syslinux 6, in this order). */
const SYSLINUX_MENUS = ['boot/isolinux/isolinux.cfg', 'isolinux/isolinux.cfg', 'isolinux.cfg', 'boot/syslinux/syslinux.cfg', 'syslinux/syslinux.cfg', 'syslinux.cfg'];
/** Menus are small; anything bigger is not one (and would not be read into memory). */
const MAX_CONFIG_BYTES = 1 << 20;

export interface BootMenuEdits {
  /** Files written, relative to the tree (`boot/grub/efi.img:boot/grub/grub.cfg` for one inside an EFI image). */
  edited: string[];
  /** Menus that only include another and were left as they are. */
  leftAlone: string[];
}

/** Reads files of the tree by relative path; nothing outside it (a symlink pointing out reads as absent). */
export function treeReader(tree: string): ConfigReader {
  const realTree = realpathSync(tree);
  return (path) => {
    const rel = posix.normalize(path);
    if (rel.startsWith('../') || rel === '..' || rel.startsWith('/')) return undefined;
    try {
      const abs = realpathSync(join(tree, rel));
      if (!abs.startsWith(`${realTree}/`)) return undefined;
      const st = statSync(abs);
      if (!st.isFile() || st.size > MAX_CONFIG_BYTES) return undefined;
      return readFileSync(abs, 'utf8');
    } catch {
      return undefined;
    }
  };
}

/** GRUB configs under EFI/ (EFI/boot/grub.cfg, EFI/debian/grub.cfg, ...), sorted. */
function efiGrubConfigs(tree: string): string[] {
  const out: string[] = [];
  for (const efi of ['EFI', 'efi']) {
    const dir = join(tree, efi);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
    for (const sub of readdirSync(dir).sort()) {
      const subDir = join(dir, sub);
      if (!statSync(subDir).isDirectory()) continue;
      const cfg = readdirSync(subDir).find((f) => f.toLowerCase() === 'grub.cfg');
      if (cfg !== undefined) out.push(`${efi}/${sub}/${cfg}`);
    }
  }
  return out;
}

/**
 * Every menu file of the tree a firmware path reads (the GRUB and isolinux roots and what they include), for edits
 * that are plain text replacements. A root the model cannot read still counts as itself.
 */
export function isoMenuFiles(tree: string): string[] {
  const read = treeReader(tree);
  const files = new Set<string>();
  const add = (root: string, load: () => { texts: ReadonlyMap<string, string> } | undefined): void => {
    try {
      for (const file of load()?.texts.keys() ?? []) files.add(file);
    } catch {
      if (read(root) !== undefined) files.add(root);
    }
  };
  for (const root of [...GRUB_MENUS, ...efiGrubConfigs(tree)]) add(root, () => loadGrubMenu(root, read));
  for (const root of SYSLINUX_MENUS) add(root, () => loadSyslinuxMenu(root, read));
  return [...files].sort();
}

export async function editIsoBootMenus(tree: string, edit: MenuEdit, opts: { efiImage?: string; log?: BuildLog } = {}): Promise<BootMenuEdits> {
  const read = treeReader(tree);
  const result: BootMenuEdits = { edited: [], leftAlone: [] };
  const write = (files: Map<string, string>): void => {
    for (const [file, text] of files) {
      writeFileBeneath(tree, file, text, { what: ISO_TREE });
      result.edited.push(file);
    }
  };
  for (const root of [...GRUB_MENUS, ...efiGrubConfigs(tree)]) {
    if (result.edited.includes(root)) continue;
    const menu = loadGrubMenu(root, read);
    if (menu === undefined) continue;
    if (grubIncludesOnly(menu.nodes)) {
      result.leftAlone.push(root);
      continue;
    }
    const edits = new LineEdits();
    editGrub(menu, edit, edits);
    write(editedTexts(menu, edits));
  }
  for (const root of SYSLINUX_MENUS) {
    const menu = loadSyslinuxMenu(root, read);
    if (menu === undefined) continue;
    const edits = new LineEdits();
    editSyslinux(menu, edit, edits);
    write(editedTexts(menu, edits));
  }
  if (opts.efiImage !== undefined && existsSync(join(tree, opts.efiImage))) await editEfiImage(tree, opts.efiImage, edit, read, result, opts.log);
  return result;
}

/** The GRUB configs inside the El Torito EFI image file; their includes reach the ISO (GRUB's root is set to it). */
async function editEfiImage(tree: string, image: string, edit: MenuEdit, read: ConfigReader, result: BootMenuEdits, log?: BuildLog): Promise<void> {
  // mtools writes into the image: never through a link out of the tree
  const abs = resolveBeneath(tree, image, { what: ISO_TREE });
  const configs = (await listFatFiles(abs, log)).filter((f) => /(^|\/)grub\.cfg$/i.test(f));
  for (const cfg of configs) {
    const text = await readFatFile(abs, cfg, log);
    if (text === undefined || text.length > MAX_CONFIG_BYTES) continue;
    const name = `${image}:${cfg}`;
    const menu = loadGrubMenu(name, (p) => (p === name ? text : read(p)));
    if (menu === undefined) continue;
    if (grubIncludesOnly(menu.nodes) || !menu.nodes.some((n) => n.kind === 'entry' || n.kind === 'submenu' || n.kind === 'if')) {
      result.leftAlone.push(name);
      continue;
    }
    const edits = new LineEdits();
    editGrub(menu, edit, edits);
    for (const [file, after] of editedTexts(menu, edits)) {
      if (file === name) {
        await replaceFatFile(abs, cfg, after, log);
      } else {
        writeFileBeneath(tree, file, after, { what: ISO_TREE });
      }
      result.edited.push(file);
    }
  }
}
