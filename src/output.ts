/**
 * Where the CLI writes what: the result on stdout (what a script or `> file` captures), progress (listr2's, set up
 * by output-listr.ts) and warnings on stderr. `--quiet` drops progress, never warnings or the result. Symbols are
 * Unicode only in a UTF-8 locale; NO_COLOR (https://no-color.org) turns colors off: only listr2 colors, and its
 * colorette reads NO_COLOR.
 */
export type Env = Readonly<Record<string, string | undefined>>;

let quiet = false;

export function setQuiet(value: boolean): void {
  quiet = value;
}

export function isQuiet(): boolean {
  return quiet;
}

/** The character set of the locale as the C library picks it: the first of LC_ALL, LC_CTYPE, LANG that is set and not empty. */
export function unicodeLocale(env: Env = process.env): boolean {
  const locale = [env.LC_ALL, env.LC_CTYPE, env.LANG].find((v) => v !== undefined && v !== '');
  return locale !== undefined && /utf-?8/i.test(locale);
}

export type SymbolKind = 'ok' | 'warn' | 'fail';

const UNICODE: Record<SymbolKind, string> = { ok: '✔', warn: '!', fail: '✖' };
const ASCII: Record<SymbolKind, string> = { ok: 'OK', warn: '!', fail: 'FAIL' };

export function symbol(kind: SymbolKind, env: Env = process.env): string {
  return (unicodeLocale(env) ? UNICODE : ASCII)[kind];
}

/** The result (the part a script reads). */
export function result(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function resultJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A warning: always shown, on stderr. */
export function warning(text: string): void {
  process.stderr.write(`${text.startsWith('warning: ') ? text : `warning: ${text}`}\n`);
}
