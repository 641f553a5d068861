/**
 * A GRUB configuration as a tree of the statements that decide the menu: `menuentry` / `submenu` blocks, `if` /
 * `elif` / `else` / `fi` branches, `source` / `configfile` includes (followed, relative to the ISO tree),
 * `set default|timeout=`, and in entries the kernel lines (`linux`, `linuxefi`, `linux16`, ...). Everything else is
 * kept as it is and not looked at. Lines are 0-based indices into the file's text split at '\n'.
 */
import { bootConfigError, checkIncludeChain } from './errors.js';
import { bare, type ConfigReader } from './menu-edit.js';

export interface GrubEntry {
  kind: 'entry';
  file: string;
  start: number;
  /** Index of the line after the closing brace. */
  end: number;
  title: string;
  /** Lines with linux/linuxefi/linux16/...: their command, and the command line after the kernel word. */
  kernels: { line: number; command: string; path: string }[];
}
export interface GrubSubmenu {
  kind: 'submenu';
  file: string;
  start: number;
  end: number;
  title: string;
  children: GrubNode[];
}
export interface GrubIf {
  kind: 'if';
  file: string;
  start: number;
  end: number;
  branches: { condition: string; children: GrubNode[] }[];
}
export interface GrubInclude {
  kind: 'include';
  file: string;
  line: number;
  command: 'source' | 'configfile';
  /** The included file relative to the tree root; undefined when the path has variables iso-build cannot know. */
  target?: string;
  /** The included file's statements (empty when it is absent). */
  children: GrubNode[];
  missing: boolean;
}
export interface GrubSet {
  kind: 'set';
  file: string;
  line: number;
  name: string;
  value: string;
}
export type GrubNode = GrubEntry | GrubSubmenu | GrubIf | GrubInclude | GrubSet;

const KERNEL_COMMANDS = new Set(['linux', 'linuxefi', 'linux16', 'linux32', 'kernel']);

/** Splits a GRUB command line into words (quotes removed, `\` escapes kept as written outside quotes). */
function grubWords(line: string, file: string, lineNo: number): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === "'") {
      const close = line.indexOf("'", i + 1);
      if (close < 0) throw bootConfigError(file, lineNo + 1, 'unterminated single quote');
      cur += line.slice(i + 1, close);
      i = close;
      inWord = true;
    } else if (ch === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length) {
          j++;
          cur += line[j];
        } else cur += line[j];
      }
      if (j >= line.length) throw bootConfigError(file, lineNo + 1, 'unterminated double quote');
      i = j;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[i + 1];
      i++;
      inWord = true;
    } else if (ch === ' ' || ch === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else if (ch === '#' && !inWord) {
      break;
    } else if (ch === ';' ) {
      if (inWord) words.push(cur);
      words.push(';');
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** Where `source` / `configfile` point in the tree: `($root)/x`, `$prefix/x`, `/x` resolve; other variables do not. */
function resolveGrubPath(path: string, prefix: string): string | undefined {
  let p = path.replace(/^\((?:\$\{?(?:root|cmdpath)\}?|[a-z]+[0-9,a-z]*)\)/i, '');
  p = p.replace(/^\$\{?prefix\}?/, prefix);
  if (p.includes('$') || p.includes('(') || p === '') return undefined;
  return p.replace(/^\/+/, '').replace(/\/{2,}/g, '/');
}

interface Frame {
  kind: 'entry' | 'submenu' | 'if' | 'brace' | 'loop';
  node?: GrubEntry | GrubSubmenu | GrubIf;
  children: GrubNode[];
  line: number;
}

export interface ParseGrubOptions {
  read: ConfigReader;
  /** GRUB's $prefix relative to the tree (where its modules and grub.cfg are). */
  prefix?: string;
}

/** Parses `file` and everything it includes. Throws an IsoBuildError (file:line) on what GRUB itself would reject. */
export function parseGrub(file: string, text: string, opts: ParseGrubOptions, active: readonly string[] = []): GrubNode[] {
  checkIncludeChain(file, active);
  const prefix = opts.prefix ?? 'boot/grub';
  const lines = text.split('\n');
  const root: Frame = { kind: 'brace', children: [], line: 0 };
  const stack: Frame[] = [root];
  const top = (): Frame => stack[stack.length - 1]!;
  const innermostEntry = (): GrubEntry | undefined => {
    for (let k = stack.length - 1; k >= 0; k--) if (stack[k]!.kind === 'entry') return stack[k]!.node as GrubEntry;
    return undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const words = grubWords(bare(lines[i]!), file, i);
    // `a; b; c` on one line: each part is a statement (`if x; then`, `else`, `fi`, ...)
    const parts: string[][] = [[]];
    for (const w of words) (w === ';' ? parts.push([]) : parts[parts.length - 1]!.push(w));
    for (const part of parts) {
      if (part.length === 0) continue;
      const [cmd, ...args] = part as [string, ...string[]];
      if (cmd === 'menuentry' || cmd === 'submenu') {
        const title = args.find((a) => !a.startsWith('--') && a !== '{');
        const opensBrace = args[args.length - 1] === '{';
        const oneLine = args.includes('{') && args[args.length - 1] === '}';
        if (title === undefined) throw bootConfigError(file, i + 1, `${cmd} without a title`);
        if (!opensBrace && !oneLine) throw bootConfigError(file, i + 1, `${cmd} "${title}" does not open its block with "{" on the same line`);
        if (innermostEntry() !== undefined) throw bootConfigError(file, i + 1, `${cmd} inside a menuentry`);
        if (cmd === 'menuentry') {
          const node: GrubEntry = { kind: 'entry', file, start: i, end: i + 1, title, kernels: [] };
          top().children.push(node);
          if (!oneLine) stack.push({ kind: 'entry', node, children: [], line: i });
        } else {
          const node: GrubSubmenu = { kind: 'submenu', file, start: i, end: i + 1, title, children: [] };
          top().children.push(node);
          if (!oneLine) stack.push({ kind: 'submenu', node, children: node.children, line: i });
        }
        continue;
      }
      if (cmd === 'function') {
        if (args[args.length - 1] !== '{') throw bootConfigError(file, i + 1, 'function does not open its block with "{" on the same line');
        stack.push({ kind: 'brace', children: [], line: i });
        continue;
      }
      if (cmd === '}') {
        const f = top();
        if (f === root || f.kind === 'if' || f.kind === 'loop') {
          throw bootConfigError(file, i + 1, f === root ? '"}" without an open block' : `"}" closes a block opened as "${f.kind}" on line ${f.line + 1}`);
        }
        stack.pop();
        if (f.node !== undefined) f.node.end = i + 1;
        continue;
      }
      if (cmd === 'if') {
        const node: GrubIf = { kind: 'if', file, start: i, end: i + 1, branches: [{ condition: args.join(' '), children: [] }] };
        top().children.push(node);
        stack.push({ kind: 'if', node, children: node.branches[0]!.children, line: i });
        continue;
      }
      if (cmd === 'elif' || cmd === 'else') {
        const f = top();
        if (f.kind !== 'if') throw bootConfigError(file, i + 1, `"${cmd}" without "if"`);
        const branch = { condition: cmd === 'else' ? 'else' : args.join(' '), children: [] as GrubNode[] };
        (f.node as GrubIf).branches.push(branch);
        f.children = branch.children;
        if (args.length > 0 && cmd === 'else') {
          // `else cmd ...`: the rest is a statement of the branch
          handleSimple(args, i);
        }
        continue;
      }
      if (cmd === 'fi') {
        const f = top();
        if (f.kind !== 'if') throw bootConfigError(file, i + 1, '"fi" without "if"');
        stack.pop();
        f.node!.end = i + 1;
        continue;
      }
      if (cmd === 'for' || cmd === 'while' || cmd === 'until') {
        stack.push({ kind: 'loop', children: [], line: i });
        continue;
      }
      if (cmd === 'done') {
        if (top().kind !== 'loop') throw bootConfigError(file, i + 1, '"done" without "for"/"while"');
        stack.pop();
        continue;
      }
      if (cmd === 'then' || cmd === 'do') {
        if (args.length > 0) handleSimple(args, i);
        continue;
      }
      handleSimple(part, i);
    }
  }
  if (stack.length > 1) {
    const f = top();
    throw bootConfigError(file, f.line + 1, `block opened here is never closed (${f.kind === 'if' ? '"fi"' : f.kind === 'loop' ? '"done"' : '"}"'} missing)`);
  }
  return root.children;

  function handleSimple(part: string[], i: number): void {
    const [cmd, ...args] = part as [string, ...string[]];
    const entry = innermostEntry();
    if (entry !== undefined) {
      if (KERNEL_COMMANDS.has(cmd) && args[0] !== undefined) entry.kernels.push({ line: i, command: cmd, path: args[0] });
      return;
    }
    if (cmd === 'source' || cmd === '.' || cmd === 'configfile') {
      if (args[0] === undefined) throw bootConfigError(file, i + 1, `${cmd} without a file`);
      const target = resolveGrubPath(args[0], prefix);
      const text = target === undefined ? undefined : opts.read(target);
      const node: GrubInclude = {
        kind: 'include',
        file,
        line: i,
        command: cmd === 'configfile' ? 'configfile' : 'source',
        target,
        missing: text === undefined,
        children: text === undefined ? [] : parseGrub(target!, text, opts, [...active, file]),
      };
      top().children.push(node);
      return;
    }
    if (cmd === 'set' && args[0] !== undefined) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(args[0]);
      if (m !== null) top().children.push({ kind: 'set', file, line: i, name: m[1]!, value: m[2]! });
    }
  }
}

/** Where an entry sits, for choosing the one to copy: shown on every platform, only on some, in a submenu, never. */
export type Placement = 'top' | 'conditional' | 'submenu' | 'disabled';

export interface PlacedEntry {
  entry: GrubEntry;
  placement: Placement;
  /** The top-level statement (in the root file or an included one) that holds it: where a new first entry goes. */
  topLevel: GrubNode;
}

/** Every entry in menu order (includes inlined), with where it sits. */
export function grubEntries(nodes: readonly GrubNode[]): PlacedEntry[] {
  const out: PlacedEntry[] = [];
  const rank: Record<Placement, number> = { top: 0, conditional: 1, submenu: 2, disabled: 3 };
  const worse = (a: Placement, b: Placement): Placement => (rank[a] >= rank[b] ? a : b);
  const walk = (list: readonly GrubNode[], placement: Placement, topLevel: GrubNode | undefined): void => {
    for (const n of list) {
      const tl = topLevel ?? n;
      if (n.kind === 'entry') out.push({ entry: n, placement, topLevel: tl });
      else if (n.kind === 'submenu') walk(n.children, worse(placement, 'submenu'), tl);
      else if (n.kind === 'include') walk(n.children, placement, topLevel);
      else if (n.kind === 'if') {
        for (const b of n.branches) {
          const off = /^(false|\[ *0 *= *1 *\])$/.test(b.condition.trim());
          walk(b.children, worse(placement, off ? 'disabled' : 'conditional'), tl);
        }
      }
    }
  };
  walk(nodes, 'top', undefined);
  return out;
}

/** `set` statements outside entries and submenus (includes followed): the menu's own settings. */
export function grubSettings(nodes: readonly GrubNode[], name: string): GrubSet[] {
  const out: GrubSet[] = [];
  const walk = (list: readonly GrubNode[]): void => {
    for (const n of list) {
      if (n.kind === 'set' && n.name === name) out.push(n);
      else if (n.kind === 'include') walk(n.children);
      else if (n.kind === 'if') n.branches.forEach((b) => walk(b.children));
    }
  };
  walk(nodes);
  return out;
}
