/** A menu with every file it is made of, read through a ConfigReader (the ISO tree, or the files of an EFI image). */
import { editGrub, type GrubMenu } from './grub-edit.js';
import { parseGrub, type GrubNode } from './grub-parse.js';
import { LineEdits, type ConfigReader, type Menu, type MenuEdit } from './menu-edit.js';
import { editSyslinux, type SyslinuxMenu } from './syslinux-edit.js';
import { parseSyslinux } from './syslinux-parse.js';

function recording(read: ConfigReader): { read: ConfigReader; texts: Map<string, string> } {
  const texts = new Map<string, string>();
  return {
    texts,
    read: (path) => {
      const t = texts.get(path) ?? read(path);
      if (t !== undefined) texts.set(path, t);
      return t;
    },
  };
}

function loadMenu<Node>(root: string, read: ConfigReader, parse: (file: string, text: string, read: ConfigReader) => Node[]): Menu<Node> | undefined {
  const r = recording(read);
  const text = r.read(root);
  if (text === undefined) return undefined;
  return { root, nodes: parse(root, text, r.read), texts: r.texts };
}

export function loadGrubMenu(root: string, read: ConfigReader): GrubMenu | undefined {
  return loadMenu(root, read, (file, text, r) => parseGrub(file, text, { read: r }));
}

export function loadSyslinuxMenu(root: string, read: ConfigReader): SyslinuxMenu | undefined {
  return loadMenu(root, read, parseSyslinux);
}

/** A file whose own statements hold no entry: it only hands over to another file (loopback.cfg, efi.img's grub.cfg). */
export function grubIncludesOnly(nodes: readonly GrubNode[]): boolean {
  const holdsEntry = (n: GrubNode): boolean =>
    n.kind === 'entry' || n.kind === 'submenu' || (n.kind === 'if' && n.branches.some((b) => b.children.some(holdsEntry)));
  return nodes.some((n) => n.kind === 'include') && !nodes.some(holdsEntry);
}

/** The edited text of every file of the menu that changed. */
export function editedTexts(menu: Menu<unknown>, edits: LineEdits): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of edits.files()) {
    const before = menu.texts.get(file);
    if (before === undefined) continue;
    const after = edits.apply(file, before);
    if (after !== before) out.set(file, after);
  }
  return out;
}

function single(text: string, file: string): ConfigReader {
  return (path) => (path === file ? text : undefined);
}

/** Edits one GRUB file on its own (includes are not followed). */
export function editGrubMenu(text: string, edit: MenuEdit, file = 'boot/grub/grub.cfg'): string {
  const menu = loadGrubMenu(file, single(text, file))!;
  const edits = new LineEdits();
  editGrub(menu, edit, edits);
  return editedTexts(menu, edits).get(file) ?? text;
}

/** Edits one isolinux file on its own (includes are not followed). */
export function editIsolinuxMenu(text: string, edit: MenuEdit, file = 'isolinux/isolinux.cfg'): string {
  const menu = loadSyslinuxMenu(file, single(text, file))!;
  const edits = new LineEdits();
  editSyslinux(menu, edit, edits);
  return editedTexts(menu, edits).get(file) ?? text;
}
