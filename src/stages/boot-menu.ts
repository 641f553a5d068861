/**
 * Stage: reads the profile's autoinstall and bootMenu and the ISO tree; edits its boot menus. With `autoinstall`, a new first entry (a copy of the base's first installer entry) boots
 * with `autoinstall ds=nocloud;s=/cdrom/nocloud/` before `---`; the original entries stay below it. The profile's
 * kernel arguments go into every entry, and its timeout / default replace the base's. Edits boot/grub/grub.cfg,
 * boot/grub/loopback.cfg and the isolinux menu when the base has them; runs before md5sum.txt is regenerated.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderTemplate } from '../profile/template.js';
import type { BuildInputs } from '../context.js';
import type { Reporter } from '../pipeline/reporter.js';

/** What GRUB passes on as `autoinstall ds=nocloud;s=/cdrom/nocloud/` (GRUB needs the `;` escaped). */
export const GRUB_AUTOINSTALL_ARGS = ['autoinstall', 'ds=nocloud\\;s=/cdrom/nocloud/'];
export const ISOLINUX_AUTOINSTALL_ARGS = ['autoinstall', 'ds=nocloud;s=/cdrom/nocloud/'];
export const GRUB_MENUS = ['boot/grub/grub.cfg', 'boot/grub/loopback.cfg'];
export const ISOLINUX_DIRS = ['isolinux', 'syslinux'];

export interface MenuEdit {
  /** The new first entry, or undefined to add none. */
  entry?: { title: string };
  /** Added to every entry. */
  kernelArgs: string[];
  timeout?: number;
  default?: number;
}

/** Inserts `args` before the ` ---` separator of a kernel command line (or at its end), skipping ones already there. */
export function addKernelArgs(cmdline: string, args: readonly string[]): string {
  const tokens = cmdline.split(/\s+/);
  const missing = args.filter((a) => !tokens.includes(a));
  if (missing.length === 0) return cmdline;
  const sep = /\s---(?=\s|$)/.exec(cmdline);
  if (sep === null) return `${cmdline.trimEnd()} ${missing.join(' ')}`;
  return `${cmdline.slice(0, sep.index)} ${missing.join(' ')}${cmdline.slice(sep.index)}`;
}

const GRUB_KERNEL = /^(\s*)(linux|linuxefi)(\s+)(.*)$/;

interface Block {
  start: number;
  /** Index of the line after the closing brace. */
  end: number;
}

function grubBlocks(lines: string[]): Block[] {
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*menuentry\s/.test(lines[i]!)) continue;
    let depth = 0;
    let j = i;
    for (; j < lines.length; j++) {
      for (const ch of lines[j]!) depth += ch === '{' ? 1 : ch === '}' ? -1 : 0;
      if (depth <= 0 && j >= i && lines[j]!.includes('}')) break;
    }
    blocks.push({ start: i, end: j + 1 });
    i = j;
  }
  return blocks;
}

function setGrubVar(lines: string[], name: string, value: number): string[] {
  const re = new RegExp(`^(\\s*)set\\s+${name}=.*$`);
  let found = false;
  const out = lines.map((l) => {
    const m = re.exec(l);
    if (m === null) return l;
    found = true;
    return `${m[1]}set ${name}=${value}`;
  });
  return found ? out : [`set ${name}=${value}`, ...out];
}

/** Edits a GRUB menu (grub.cfg / loopback.cfg); throws if an entry is wanted and there is no entry with a kernel. */
export function editGrubMenu(text: string, edit: MenuEdit): string {
  let lines = text.split('\n');
  const kernelArgs = (line: string, extra: readonly string[]): string => {
    const m = GRUB_KERNEL.exec(line);
    return m === null ? line : `${m[1]}${m[2]}${m[3]}${addKernelArgs(m[4]!, extra)}`;
  };
  // the profile's arguments go into every existing entry
  if (edit.kernelArgs.length > 0) {
    const inEntry = new Set(grubBlocks(lines).flatMap((b) => Array.from({ length: b.end - b.start }, (_, k) => b.start + k)));
    lines = lines.map((l, i) => (inEntry.has(i) ? kernelArgs(l, edit.kernelArgs) : l));
  }
  if (edit.entry !== undefined) {
    const template = grubBlocks(lines).find((b) => lines.slice(b.start, b.end).some((l) => GRUB_KERNEL.test(l)));
    if (template === undefined) throw new Error('no menuentry with a linux line to copy');
    // a GRUB double-quoted string: \ " $ are escaped (a $ would expand a variable)
    const title = edit.entry.title.replace(/[\\"$]/g, '\\$&');
    const entry = lines.slice(template.start, template.end).map((l, k) => {
      if (k === 0) return l.replace(/^(\s*menuentry\s+)(["'])(.*?)\2/, (_m, head: string) => `${head}"${title}"`).replace(/\s--id(?:=|\s+)\S+/, '');
      return kernelArgs(l, [...GRUB_AUTOINSTALL_ARGS, ...edit.kernelArgs]);
    });
    const first = grubBlocks(lines)[0]!.start;
    lines = [...lines.slice(0, first), ...entry, ...lines.slice(first)];
  }
  if (edit.timeout !== undefined) lines = setGrubVar(lines, 'timeout', edit.timeout);
  const def = edit.default ?? (edit.entry !== undefined ? 0 : undefined);
  if (def !== undefined) lines = setGrubVar(lines, 'default', def);
  return lines.join('\n');
}

/** Label blocks of an isolinux config: from a `label` line to the next one (or the end). */
function isolinuxLabels(lines: string[]): Block[] {
  const starts = lines.flatMap((l, i) => (/^\s*label\s+\S/i.test(l) ? [i] : []));
  return starts.map((start, k) => {
    let end = starts[k + 1] ?? lines.length;
    while (end > start + 1 && lines[end - 1]!.trim() === '') end--;
    return { start, end };
  });
}

const ISOLINUX_APPEND = /^(\s*append\s+)(.*)$/i;
export const ISOLINUX_LABEL = 'autoinstall';

/** Edits an isolinux config that has label blocks; returns it unchanged when it has none. */
export function editIsolinuxMenu(text: string, edit: MenuEdit): string {
  let lines = text.split('\n');
  const appendArgs = (line: string, extra: readonly string[]): string => {
    const m = ISOLINUX_APPEND.exec(line);
    return m === null ? line : `${m[1]}${addKernelArgs(m[2]!, extra)}`;
  };
  if (edit.kernelArgs.length > 0) lines = lines.map((l) => appendArgs(l, edit.kernelArgs));
  const labels = isolinuxLabels(lines);
  if (edit.entry !== undefined) {
    const template = labels.find((b) => lines.slice(b.start, b.end).some((l) => /^\s*(linux|kernel)\s/i.test(l)));
    if (template === undefined) return lines.join('\n');
    const title = edit.entry.title;
    const entry = lines
      .slice(template.start, template.end)
      .filter((l) => !/^\s*menu\s+default\s*$/i.test(l))
      .map((l, k) => {
        if (k === 0) return l.replace(/^(\s*label\s+)\S+.*$/i, `$1${ISOLINUX_LABEL}`);
        if (/^\s*menu\s+label\s/i.test(l)) return l.replace(/^(\s*menu\s+label\s+).*$/i, `$1${title}`);
        return appendArgs(l, [...ISOLINUX_AUTOINSTALL_ARGS, ...edit.kernelArgs]);
      });
    lines = [...lines.slice(0, labels[0]!.start), ...entry, '', ...lines.slice(labels[0]!.start)];
  }
  if (edit.timeout !== undefined) {
    // isolinux counts tenths of a second, and 0 would wait forever
    const tenths = Math.max(1, edit.timeout * 10);
    const has = lines.some((l) => /^\s*timeout\s/i.test(l));
    lines = has ? lines.map((l) => l.replace(/^(\s*timeout\s+).*$/i, `$1${tenths}`)) : [`timeout ${tenths}`, ...lines];
  }
  const all = isolinuxLabels(lines).map((b) => /^\s*label\s+(\S+)/i.exec(lines[b.start]!)![1]!);
  const index = edit.default ?? (edit.entry !== undefined ? 0 : undefined);
  const name = index === undefined ? undefined : all[index];
  if (name !== undefined) {
    const has = lines.some((l) => /^\s*default\s+(?!\S+\.c32)\S+/i.test(l));
    lines = has ? lines.map((l) => l.replace(/^(\s*default\s+)(?!\S+\.c32)\S+.*$/i, `$1${name}`)) : [`default ${name}`, ...lines];
  }
  return lines.join('\n');
}

export function bootMenuSkip(ctx: BuildInputs): string | false {
  return ctx.profile.autoinstall === undefined && ctx.profile.bootMenu === undefined ? 'no autoinstall or bootMenu in the profile' : false;
}

export function bootMenuStage(ctx: BuildInputs, task: Reporter): void {
  const menu = ctx.profile.bootMenu;
  const vars = { name: ctx.profile.name, product: ctx.profile.product, version: ctx.version };
  const title = renderTemplate(menu?.title ?? 'Install {{product}} (automatic)', vars).replace(/[\r\n]/g, ' ');
  const edit: MenuEdit = {
    entry: ctx.profile.autoinstall === undefined ? undefined : { title },
    kernelArgs: menu?.kernelArgs ?? [],
    timeout: menu?.timeout,
    default: menu?.default,
  };
  const edited: string[] = [];
  for (const rel of GRUB_MENUS) {
    const file = join(ctx.work.tree, rel);
    if (!existsSync(file)) continue;
    try {
      writeFileSync(file, editGrubMenu(readFileSync(file, 'utf8'), edit));
    } catch (err) {
      throw new Error(`${rel}: ${(err as Error).message}`);
    }
    edited.push(rel);
  }
  for (const dir of ISOLINUX_DIRS) {
    const abs = join(ctx.work.tree, dir);
    if (!existsSync(abs)) continue;
    for (const name of readdirSync(abs).filter((f) => f.endsWith('.cfg')).sort()) {
      const file = join(abs, name);
      const before = readFileSync(file, 'utf8');
      if (!/^\s*label\s/im.test(before)) continue;
      // the new entry, timeout and default go into the first menu file with labels only
      const first = !edited.some((e) => e.startsWith(`${dir}/`));
      const after = editIsolinuxMenu(before, first ? edit : { kernelArgs: edit.kernelArgs });
      if (after !== before) {
        writeFileSync(file, after);
        edited.push(`${dir}/${name}`);
      }
    }
  }
  for (const rel of edited) ctx.log.line(`boot menu: edited ${rel}`);
  if (edited.length === 0) ctx.log.line('boot menu: warning: the base ISO has no GRUB or isolinux menu to edit');
  task.title = `Edit the boot menu: ${edited.join(', ') || 'no menu found'}`;
}
