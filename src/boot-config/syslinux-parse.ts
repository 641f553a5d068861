/**
 * An isolinux / syslinux configuration as the statements that decide the menu: `label` blocks (their `kernel` /
 * `linux`, `append`, `menu label`, `menu default` lines), `menu begin` ... `menu end` sub-menus, `include` /
 * `menu include` (followed, relative to the including file's directory as isolinux resolves them) and the global
 * `default`, `timeout`, `prompt`, `ui`, `ontimeout`. Keywords are case-insensitive (syslinux's readconfig).
 */
import { posix } from 'node:path';
import { bootConfigError, checkIncludeChain } from './errors.js';
import { bare, type ConfigReader } from './menu-edit.js';

export interface SyslinuxLabel {
  kind: 'label';
  file: string;
  start: number;
  /** The line after the block (trailing blank lines and comments are not part of it). */
  end: number;
  name: string;
  kernel?: { line: number; path: string };
  appends: number[];
  menuLabel?: number;
  menuDefaults: number[];
}
export interface SyslinuxSubmenu {
  kind: 'menu';
  file: string;
  start: number;
  end: number;
  children: SyslinuxNode[];
}
export interface SyslinuxInclude {
  kind: 'include';
  file: string;
  line: number;
  target: string;
  missing: boolean;
  children: SyslinuxNode[];
}
export interface SyslinuxDirective {
  kind: 'directive';
  file: string;
  line: number;
  name: 'default' | 'timeout' | 'prompt' | 'ui' | 'ontimeout';
  value: string;
}
export type SyslinuxNode = SyslinuxLabel | SyslinuxSubmenu | SyslinuxInclude | SyslinuxDirective;

/** Keywords that belong to the label above them; any other statement ends the label block. */
const LABEL_KEYWORDS = new Set(['kernel', 'linux', 'boot', 'bss', 'pxe', 'fdimage', 'comboot', 'com32', 'config', 'append', 'initrd', 'localboot', 'ipappend', 'sysappend', 'text']);
const LABEL_MENU_KEYWORDS = new Set(['label', 'default', 'hide', 'indent', 'disable', 'passwd', 'exit', 'help', 'goto', 'quit']);
const DIRECTIVES = new Set(['default', 'timeout', 'prompt', 'ui', 'ontimeout']);

function words(line: string): string[] {
  return bare(line).trim().split(/\s+/).filter((w) => w !== '');
}

export function parseSyslinux(file: string, text: string, read: ConfigReader, active: readonly string[] = []): SyslinuxNode[] {
  checkIncludeChain(file, active);
  const lines = text.split('\n');
  const root: SyslinuxNode[] = [];
  const menus: { node: SyslinuxSubmenu; line: number }[] = [];
  const here = (): SyslinuxNode[] => (menus.length > 0 ? menus[menus.length - 1]!.node.children : root);
  let label: SyslinuxLabel | undefined;
  let inText = false;
  const closeLabel = (): void => {
    label = undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const w = words(lines[i]!);
    if (inText) {
      if (w[0]?.toLowerCase() === 'endtext') {
        inText = false;
        if (label !== undefined) label.end = i + 1;
      }
      continue;
    }
    if (w.length === 0 || w[0]!.startsWith('#')) continue;
    const kw = w[0]!.toLowerCase();
    const sub = w[1]?.toLowerCase();
    if (kw === 'label') {
      if (w[1] === undefined) throw bootConfigError(file, i + 1, 'label without a name');
      label = { kind: 'label', file, start: i, end: i + 1, name: w[1], appends: [], menuDefaults: [] };
      here().push(label);
      continue;
    }
    if (label !== undefined && (LABEL_KEYWORDS.has(kw) || (kw === 'menu' && sub !== undefined && LABEL_MENU_KEYWORDS.has(sub)))) {
      label.end = i + 1;
      if ((kw === 'kernel' || kw === 'linux') && w[1] !== undefined) label.kernel = { line: i, path: w[1] };
      else if (kw === 'append') label.appends.push(i);
      else if (kw === 'text') inText = true;
      else if (kw === 'menu' && sub === 'label') label.menuLabel = i;
      else if (kw === 'menu' && sub === 'default') label.menuDefaults.push(i);
      continue;
    }
    closeLabel();
    if (kw === 'menu' && sub === 'begin') {
      const node: SyslinuxSubmenu = { kind: 'menu', file, start: i, end: i + 1, children: [] };
      here().push(node);
      menus.push({ node, line: i });
      continue;
    }
    if (kw === 'menu' && sub === 'end') {
      const m = menus.pop();
      if (m === undefined) throw bootConfigError(file, i + 1, '"menu end" without "menu begin"');
      m.node.end = i + 1;
      continue;
    }
    const include = kw === 'include' ? w[1] : kw === 'menu' && sub === 'include' ? w[2] : undefined;
    if (kw === 'include' || (kw === 'menu' && sub === 'include')) {
      if (include === undefined) throw bootConfigError(file, i + 1, 'include without a file');
      const target = include.startsWith('/') ? include.slice(1) : posix.join(posix.dirname(file), include);
      const t = read(target);
      here().push({
        kind: 'include',
        file,
        line: i,
        target,
        missing: t === undefined,
        children: t === undefined ? [] : parseSyslinux(target, t, read, [...active, file]),
      });
      continue;
    }
    if (DIRECTIVES.has(kw) && w[1] !== undefined) {
      here().push({ kind: 'directive', file, line: i, name: kw as SyslinuxDirective['name'], value: w.slice(1).join(' ') });
    }
  }
  if (inText) throw bootConfigError(file, lines.length, '"text help" without "endtext"');
  if (menus.length > 0) throw bootConfigError(file, menus[menus.length - 1]!.line + 1, '"menu begin" without "menu end"');
  return root;
}

export interface PlacedLabel {
  label: SyslinuxLabel;
  inSubmenu: boolean;
}

export function syslinuxLabels(nodes: readonly SyslinuxNode[]): PlacedLabel[] {
  const out: PlacedLabel[] = [];
  const walk = (list: readonly SyslinuxNode[], inSubmenu: boolean): void => {
    for (const n of list) {
      if (n.kind === 'label') out.push({ label: n, inSubmenu });
      else if (n.kind === 'menu') walk(n.children, true);
      else if (n.kind === 'include') walk(n.children, inSubmenu);
    }
  };
  walk(nodes, false);
  return out;
}

/** Global directives (not inside sub-menus), includes followed. */
export function syslinuxDirectives(nodes: readonly SyslinuxNode[], name: SyslinuxDirective['name']): SyslinuxDirective[] {
  const out: SyslinuxDirective[] = [];
  const walk = (list: readonly SyslinuxNode[]): void => {
    for (const n of list) {
      if (n.kind === 'directive' && n.name === name) out.push(n);
      else if (n.kind === 'include') walk(n.children);
    }
  };
  walk(nodes);
  return out;
}

/** The first top-level item of the menu in order (a label, or a sub-menu before any label): where a new first entry goes. */
export function firstMenuItem(nodes: readonly SyslinuxNode[]): SyslinuxLabel | SyslinuxSubmenu | undefined {
  for (const n of nodes) {
    if (n.kind === 'label' || n.kind === 'menu') return n;
    if (n.kind === 'include') {
      const inner = firstMenuItem(n.children);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}
