/** What the profile asks of a boot menu, and the line edits that do it (the rest of every file stays byte for byte). */

export interface MenuEdit {
  /** The new first entry (a copy of the base's first OS entry with the installer's arguments), or none. */
  entry?: { title: string };
  /** Added to every OS entry, before ` ---` (the live / installer system). */
  kernelArgs: readonly string[];
  /** Added to every OS entry after ` ---`: what the installer copies to the installed system's boot loader. */
  installedKernelArgs?: readonly string[];
  /** Seconds; undefined keeps the base's, except that a menu that would wait forever gets DEFAULT_AUTOMATIC_TIMEOUT. */
  timeout?: number;
  /** Index of the default entry (from 0); with a new entry it defaults to 0, the new entry. */
  default?: number;
}

/** Seconds an unattended menu waits when neither the base nor the profile says (the base waiting forever). */
const DEFAULT_AUTOMATIC_TIMEOUT = 5;

/** The timeout to set: the profile's, else DEFAULT_AUTOMATIC_TIMEOUT when the new entry would wait for a key forever. */
export function timeoutToSet(edit: MenuEdit, entryAdded: boolean, waitsForever: boolean): number | undefined {
  return edit.timeout ?? (entryAdded && waitsForever ? DEFAULT_AUTOMATIC_TIMEOUT : undefined);
}

/** The index of the entry to make the default: the profile's, else the new first entry. */
export function defaultToSet(edit: MenuEdit): number | undefined {
  return edit.default ?? (edit.entry !== undefined ? 0 : undefined);
}

/** A parsed menu with the text of every file it is made of (its root file and what that includes). */
export interface Menu<Node> {
  /** The menu file the firmware's boot loader reads, relative to the tree root. */
  root: string;
  nodes: Node[];
  texts: ReadonlyMap<string, string>;
}

/** Reads a file of the menu by its path relative to the ISO tree (or EFI image) root; undefined when absent. */
export type ConfigReader = (path: string) => string | undefined;

/** Line edits of several files, addressed by the original line numbers (0-based) so that they never shift. */
export class LineEdits {
  /** null: the line is dropped. */
  private readonly replaced = new Map<string, Map<number, string | null>>();
  private readonly inserted = new Map<string, Map<number, string[]>>();

  replace(file: string, line: number, text: string | null): void {
    let m = this.replaced.get(file);
    if (m === undefined) this.replaced.set(file, (m = new Map()));
    m.set(line, text);
  }

  /** Lines inserted before original line `before` (its length = at the end); later calls go after earlier ones. */
  insert(file: string, before: number, lines: readonly string[]): void {
    let m = this.inserted.get(file);
    if (m === undefined) this.inserted.set(file, (m = new Map()));
    m.set(before, [...(m.get(before) ?? []), ...lines]);
  }

  remove(file: string, line: number): void {
    this.replace(file, line, null);
  }

  replacedLine(file: string, line: number): string | undefined {
    return this.replaced.get(file)?.get(line) ?? undefined;
  }

  files(): string[] {
    return [...new Set([...this.replaced.keys(), ...this.inserted.keys()])].sort();
  }

  apply(file: string, text: string): string {
    const lines = text.split('\n');
    const rep = this.replaced.get(file);
    const ins = this.inserted.get(file);
    const out: string[] = [];
    for (let i = 0; i <= lines.length; i++) {
      const before = ins?.get(i);
      if (before !== undefined) {
        // an insertion at the very end of a file that ends with a newline goes before that final empty "line"
        if (i === lines.length && out.length > 0 && out[out.length - 1] === '' && text.endsWith('\n')) out.splice(out.length - 1, 0, ...before);
        else out.push(...before);
      }
      if (i >= lines.length) continue;
      const r = rep?.get(i);
      if (r !== null) out.push(r ?? lines[i]!);
    }
    return out.join('\n');
  }
}

/** Line `line` (0-based) of `file` as the base has it. */
export function originalLine(menu: Menu<unknown>, file: string, line: number): string {
  return menu.texts.get(file)!.split('\n')[line]!;
}

/** Line `line` of `file` as the edits so far leave it. */
export function currentLine(menu: Menu<unknown>, edits: LineEdits, file: string, line: number): string {
  return edits.replacedLine(file, line) ?? originalLine(menu, file, line);
}

/** A copied block moved to where another block starts: the copy's indentation becomes the target's. */
export function reindent(lines: readonly string[], from: string, to: string): string[] {
  return lines.map((l) => (l.startsWith(from) ? to + l.slice(from.length) : l));
}

/** The line without a trailing CR (files written on Windows keep their CRs: edits re-add them). */
export function bare(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

export function withEnding(original: string, text: string): string {
  return original.endsWith('\r') ? `${text}\r` : text;
}

export function indentOf(line: string): string {
  return /^[ \t]*/.exec(line)![0];
}
