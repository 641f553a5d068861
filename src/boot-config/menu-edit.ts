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
export const DEFAULT_AUTOMATIC_TIMEOUT = 5;

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
