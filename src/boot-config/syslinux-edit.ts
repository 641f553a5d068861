/**
 * Edits a parsed isolinux / syslinux menu: the profile's arguments into every OS label's `append`, a copy of the first
 * OS label (with the installer's arguments) before the first item of the menu, the default moved to it and the
 * timeout set. With a menu UI (`default vesamenu.c32`, `ui ...`) the selected entry is the one marked `menu default`
 * (the last one marked wins in syslinux's menu), so the mark moves from the original label to the new one.
 */
import { bootConfigError } from './errors.js';
import { ISOLINUX_AUTOINSTALL_ARGS, addInstalledSystemArgs, addKernelArgs, isUtilityKernel } from './kernel-args.js';
import { LineEdits, bare, currentLine, defaultToSet, indentOf, originalLine, reindent, timeoutToSet, withEnding, type Menu, type MenuEdit } from './menu-edit.js';
import { firstMenuItem, syslinuxDirectives, syslinuxLabels, type SyslinuxLabel, type SyslinuxNode } from './syslinux-parse.js';

const ISOLINUX_LABEL = 'autoinstall';
const APPEND_LINE = /^(\s*append\s+)(.*)$/i;

export type SyslinuxMenu = Menu<SyslinuxNode>;

function isOsLabel(label: SyslinuxLabel): boolean {
  return label.kernel !== undefined && !isUtilityKernel(label.kernel.path);
}

/** A module name as `default`/`ui` takes it: a menu program rather than a label. */
function isModule(value: string): boolean {
  return /\.c32$/i.test(value.split(/\s+/)[0] ?? '');
}

export function editSyslinux(menu: SyslinuxMenu, edit: MenuEdit, edits: LineEdits): void {
  const placed = syslinuxLabels(menu.nodes);
  const installed = edit.installedKernelArgs ?? [];
  const withArgs = (line: string, before: readonly string[]): string => {
    const m = APPEND_LINE.exec(bare(line));
    return m === null ? line : withEnding(line, `${m[1]}${addInstalledSystemArgs(addKernelArgs(m[2]!, before), installed)}`);
  };
  if (edit.kernelArgs.length > 0 || installed.length > 0) {
    for (const { label } of placed) {
      if (!isOsLabel(label)) continue;
      for (const a of label.appends) {
        const line = currentLine(menu, edits, label.file, a);
        const next = withArgs(line, edit.kernelArgs);
        if (next !== line) edits.replace(label.file, a, next);
      }
    }
  }
  const usesUi = syslinuxDirectives(menu.nodes, 'ui').length > 0 || syslinuxDirectives(menu.nodes, 'default').some((d) => isModule(d.value));
  const names = placed.map((p) => p.label.name.toLowerCase());
  let newName: string | undefined;
  if (edit.entry !== undefined) {
    const template = [...placed.filter((p) => !p.inSubmenu), ...placed.filter((p) => p.inSubmenu)].find((p) => isOsLabel(p.label))?.label;
    const at = firstMenuItem(menu.nodes);
    if (template === undefined || at === undefined) throw bootConfigError(menu.root, 1, 'no label with a kernel to copy (includes followed)');
    newName = ISOLINUX_LABEL;
    for (let n = 1; names.includes(newName.toLowerCase()); n++) newName = `${ISOLINUX_LABEL}-${n}`;
    const marked = placed.some((p) => p.label.menuDefaults.length > 0);
    const baseIndent = indentOf(originalLine(menu, template.file, template.start));
    const targetIndent = indentOf(originalLine(menu, at.file, at.start));
    const copy: string[] = [];
    let hasAppend = false;
    for (let i = template.start; i < template.end; i++) {
      let line = currentLine(menu, edits, template.file, i);
      if (template.menuDefaults.includes(i)) continue;
      if (i === template.start) line = withEnding(line, bare(line).replace(/^(\s*label\s+)\S+.*$/i, `$1${newName}`));
      else if (i === template.menuLabel) line = withEnding(line, bare(line).replace(/^(\s*menu\s+label\s+).*$/i, `$1${edit.entry.title}`));
      else if (template.appends.includes(i)) {
        line = withArgs(line, [...edit.kernelArgs, ...ISOLINUX_AUTOINSTALL_ARGS]);
        hasAppend = true;
      }
      copy.push(line);
      if (marked && i === (template.menuLabel ?? template.start)) copy.push(`${indentOf(copy[copy.length - 1]!)}${/^\s*MENU/.test(line) ? 'MENU DEFAULT' : 'menu default'}`);
    }
    if (!hasAppend) {
      const kernel = currentLine(menu, edits, template.file, template.kernel!.line);
      const after = copy.findIndex((l) => bare(l).trim() === bare(kernel).trim());
      copy.splice(after + 1, 0, `${indentOf(kernel)}append ${[...edit.kernelArgs, ...ISOLINUX_AUTOINSTALL_ARGS].join(' ')}`);
    }
    if (marked) for (const p of placed) for (const d of p.label.menuDefaults) edits.remove(p.label.file, d);
    edits.insert(at.file, at.start, [...reindent(copy, baseIndent, targetIndent), '']);
  }
  setDefault(menu, edit, edits, newName, usesUi);
  setTimeout(menu, edit, edits, newName !== undefined);
}

function setDefault(menu: SyslinuxMenu, edit: MenuEdit, edits: LineEdits, newName: string | undefined, usesUi: boolean): void {
  const placed = syslinuxLabels(menu.nodes);
  const order = [...(newName === undefined ? [] : [newName]), ...placed.map((p) => p.label.name)];
  const index = defaultToSet(edit);
  const name = index === undefined ? undefined : order[index];
  if (name === undefined) return;
  const defaults = syslinuxDirectives(menu.nodes, 'default').filter((d) => !isModule(d.value));
  for (const d of defaults) {
    const line = currentLine(menu, edits, d.file, d.line);
    edits.replace(d.file, d.line, withEnding(line, bare(line).replace(/^(\s*default\s+)\S+.*$/i, `$1${name}`)));
  }
  if (defaults.length === 0 && !usesUi) edits.insert(menu.root, 0, [`default ${name}`]);
  if (usesUi && name !== newName) {
    // a menu UI selects the label marked `menu default`: move the mark to the chosen original label
    const target = placed.find((p) => p.label.name === name)?.label;
    if (target === undefined) return;
    for (const p of placed) for (const d of p.label.menuDefaults) edits.remove(p.label.file, d);
    const after = target.menuLabel ?? target.start;
    const indent = indentOf(currentLine(menu, edits, target.file, after === target.start ? target.start + 1 : after));
    edits.insert(target.file, after + 1, [`${indent}menu default`]);
  }
}

function setTimeout(menu: SyslinuxMenu, edit: MenuEdit, edits: LineEdits, entryAdded: boolean): void {
  const timeouts = syslinuxDirectives(menu.nodes, 'timeout');
  // timeout 0 (or none): the menu waits for a key forever
  const waitsForever = timeouts.every((t) => Number(t.value) === 0);
  const seconds = timeoutToSet(edit, entryAdded, waitsForever);
  if (seconds === undefined) return;
  // isolinux counts tenths of a second, and 0 would wait forever
  const tenths = Math.max(1, seconds * 10);
  for (const t of timeouts) {
    const line = currentLine(menu, edits, t.file, t.line);
    edits.replace(t.file, t.line, withEnding(line, bare(line).replace(/^(\s*timeout\s+)\S+.*$/i, `$1${tenths}`)));
  }
  if (timeouts.length === 0) edits.insert(menu.root, 0, [`timeout ${tenths}`]);
}
