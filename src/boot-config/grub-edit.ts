/**
 * Edits a parsed GRUB menu: the profile's arguments into every OS entry, a copy of the first OS entry (with the
 * installer's arguments) before the first entry of the menu, and `set timeout` / `set default` where the menu sets
 * them. Entries are found wherever the menu keeps them (includes followed); the one to copy is preferably shown on
 * every platform, else in a platform `if`, else in a submenu, else in an `if false` block.
 */
import { bootConfigError } from './errors.js';
import { GRUB_AUTOINSTALL_ARGS, addInstalledSystemArgs, addKernelArgs, isUtilityKernel } from './kernel-args.js';
import { grubEntries, grubSettings, type GrubEntry, type GrubNode, type Placement } from './grub-parse.js';
import { LineEdits, bare, currentLine, defaultToSet, indentOf, originalLine, reindent, timeoutToSet, withEnding, type Menu, type MenuEdit } from './menu-edit.js';

const KERNEL_LINE = /^(\s*)(linux|linuxefi|linux16|linux32|kernel)(\s+)(.*)$/;
const PLACEMENT_ORDER: Placement[] = ['top', 'conditional', 'submenu', 'disabled'];

export type GrubMenu = Menu<GrubNode>;

/** `linux ... args` with the arguments placed per kernel-args.ts; other lines unchanged. */
function withArgs(line: string, before: readonly string[], after: readonly string[]): string {
  const m = KERNEL_LINE.exec(bare(line));
  if (m === null || isUtilityKernel(m[4]!.split(/\s+/)[0] ?? '')) return line;
  const cmdline = addInstalledSystemArgs(addKernelArgs(m[4]!, before), after);
  return withEnding(line, `${m[1]}${m[2]}${m[3]}${cmdline}`);
}

function isOsEntry(entry: GrubEntry): boolean {
  return entry.kernels.some((k) => !isUtilityKernel(k.path));
}

/** A GRUB double-quoted string: \ " $ are escaped (a $ would expand a variable). */
function grubQuote(title: string): string {
  return `"${title.replace(/[\\"$]/g, '\\$&')}"`;
}

/** The first line of the copy: the new title, without --id (ids are unique) and --hotkey (it would steal the original's). */
function retitle(line: string, title: string, file: string, lineNo: number): string {
  const m = /^(\s*menuentry\s+)("(?:[^"\\]|\\.)*"|'[^']*'|\S+)(.*)$/.exec(bare(line));
  if (m === null) throw bootConfigError(file, lineNo + 1, 'menuentry whose title iso-build cannot rewrite');
  const rest = m[3]!.replace(/\s--(?:id|hotkey)(?:=|\s+)(?:"[^"]*"|'[^']*'|\S+)/g, '');
  return withEnding(line, `${m[1]}${grubQuote(title)}${rest}`);
}

export function editGrub(menu: GrubMenu, edit: MenuEdit, edits: LineEdits): void {
  const entries = grubEntries(menu.nodes);
  const installed = edit.installedKernelArgs ?? [];
  if (edit.kernelArgs.length > 0 || installed.length > 0) {
    for (const { entry } of entries) {
      for (const k of entry.kernels) {
        const line = currentLine(menu, edits, entry.file, k.line);
        const next = withArgs(line, edit.kernelArgs, installed);
        if (next !== line) edits.replace(entry.file, k.line, next);
      }
    }
  }
  const first = entries[0];
  if (edit.entry !== undefined) {
    const template = PLACEMENT_ORDER.flatMap((p) => entries.filter((e) => e.placement === p && isOsEntry(e.entry)))[0]?.entry;
    if (template === undefined || first === undefined) {
      throw bootConfigError(menu.root, 1, 'no menuentry with a linux line to copy (includes followed)');
    }
    const at = first.topLevel as { file: string; start: number };
    const targetIndent = indentOf(originalLine(menu, at.file, at.start));
    const baseIndent = indentOf(originalLine(menu, template.file, template.start));
    const kernelLines = new Set(template.kernels.map((k) => k.line));
    const copy: string[] = [];
    for (let i = template.start; i < template.end; i++) {
      let line = currentLine(menu, edits, template.file, i);
      if (i === template.start) line = retitle(line, edit.entry.title, template.file, i);
      else if (kernelLines.has(i)) line = withArgs(line, [...edit.kernelArgs, ...GRUB_AUTOINSTALL_ARGS], installed);
      copy.push(line);
    }
    setMenuVariables(menu, edit, edits, true);
    edits.insert(at.file, at.start, reindent(copy, baseIndent, targetIndent));
    return;
  }
  setMenuVariables(menu, edit, edits, false);
}

/** Where new `set` lines go: after the root file's last include before its first entry (an include may set them). */
function settingsLine(menu: GrubMenu): number {
  let line = 0;
  for (const n of menu.nodes) {
    if (n.kind === 'include') line = n.line + 1;
    if (grubEntries([n]).length > 0) break;
  }
  return line;
}

function setMenuVariables(menu: GrubMenu, edit: MenuEdit, edits: LineEdits, entryAdded: boolean): void {
  const timeouts = grubSettings(menu.nodes, 'timeout');
  // no timeout, or -1: GRUB waits for a key forever, and an unattended install would never start
  const waitsForever = timeouts.length === 0 || timeouts.every((t) => /^-\d+$/.test(t.value.replace(/["']/g, '')));
  const timeout = timeoutToSet(edit, entryAdded, waitsForever);
  const def = defaultToSet(edit);
  const at = settingsLine(menu);
  for (const [name, value] of [['timeout', timeout], ['default', def]] as const) {
    if (value === undefined) continue;
    const sets = grubSettings(menu.nodes, name);
    if (sets.length === 0) {
      edits.insert(menu.root, at, [`set ${name}=${value}`]);
      continue;
    }
    for (const s of sets) {
      const line = currentLine(menu, edits, s.file, s.line);
      const next = line.replace(new RegExp(`(set\\s+${name}=)("[^"]*"|'[^']*'|[^\\s;]*)`), `$1${value}`);
      if (next !== line) edits.replace(s.file, s.line, next);
    }
  }
}
