/** What `iso-build boot --install` checks on the installed disk, read with debugfs (no mount). */
import { usageError } from '../errors.js';
import { isDirectory, isRegular, type ExtImage } from '../tools/debugfs.js';

export type DiskCheck =
  | { kind: 'exists'; path: string }
  | { kind: 'content'; path: string; content: string }
  | { kind: 'absent'; path: string }
  | { kind: 'json'; path: string };

export interface DiskCheckResult {
  check: DiskCheck;
  ok: boolean;
  detail: string;
}

/** Without --expect-file/--expect-absent: the product's version file and build record must be on the disk. */
export const DEFAULT_CHECKS: readonly DiskCheck[] = [
  { kind: 'exists', path: '/opt/novasphere/VERSION' },
  { kind: 'json', path: '/opt/novasphere/build-info.json' },
];

/** `PATH` (exists: file, directory or symlink to one) or `PATH=CONTENT` (a file whose text, trimmed, is CONTENT). */
export function parseExpectFile(spec: string): DiskCheck {
  const eq = spec.indexOf('=');
  const path = eq < 0 ? spec : spec.slice(0, eq);
  if (!path.startsWith('/')) throw usageError(`--expect-file '${spec}': the path must be absolute`, 'e.g. --expect-file /opt/novasphere/VERSION=v1.0.0');
  if (eq < 0) return path.endsWith('.json') ? { kind: 'json', path } : { kind: 'exists', path };
  return { kind: 'content', path, content: spec.slice(eq + 1) };
}

export function parseExpectAbsent(path: string): DiskCheck {
  if (!path.startsWith('/')) throw usageError(`--expect-absent '${path}': the path must be absolute`, 'e.g. --expect-absent /usr/lib/fixture-installer');
  return { kind: 'absent', path };
}

export async function runDiskCheck(fs: ExtImage, check: DiskCheck): Promise<DiskCheckResult> {
  if (check.kind === 'absent') {
    // The entry itself, not what a symlink points at: a dangling symlink is present too.
    const present = await fs.entry(check.path);
    return { check, ok: present === undefined, detail: present ? 'present' : 'absent' };
  }
  const found = await fs.resolve(check.path);
  if (!found) return { check, ok: false, detail: 'missing' };
  const what = isDirectory(found.entry) ? 'directory' : isRegular(found.entry) ? `file, ${found.entry.size} bytes` : 'special file';
  if (check.kind === 'exists') return { check, ok: true, detail: what };
  if (!isRegular(found.entry)) return { check, ok: false, detail: `not a regular file (${what})` };
  const text = (await fs.readFile(found.path)).toString('utf8');
  if (check.kind === 'content') {
    const actual = text.trim();
    return { check, ok: actual === check.content, detail: actual === check.content ? `"${actual}"` : `"${truncate(actual)}", expected "${check.content}"` };
  }
  try {
    JSON.parse(text);
    return { check, ok: true, detail: `valid JSON, ${text.length} bytes` };
  } catch (err) {
    return { check, ok: false, detail: `not valid JSON (${err instanceof Error ? err.message : String(err)})` };
  }
}

export function describeCheck(c: DiskCheck): string {
  switch (c.kind) {
    case 'exists':
      return `${c.path} exists`;
    case 'content':
      return `${c.path} = "${c.content}"`;
    case 'absent':
      return `${c.path} absent`;
    case 'json':
      return `${c.path} is JSON`;
  }
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
