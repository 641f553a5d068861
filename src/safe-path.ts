/**
 * Paths under a root the build owns (the ISO tree, the work and output directories) resolved without ever following a
 * symlink out of it: a symlink that stays inside is followed, one that leads out (absolute, or `..` past the root) is
 * an error naming it. Unlike rootfs-path.ts (chroot semantics, for the rootfs) an absolute symlink here means the
 * build host: the ISO is mounted at /cdrom, its absolute links point at the host. The last component is opened with
 * O_NOFOLLOW, so a symlink swapped in after the check is refused by the kernel instead of written through.
 */
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, writeSync, type Stats } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { ExitCode, IsoBuildError } from './errors.js';

const MAX_SYMLINKS = 40;

/** A symlink under a root whose target leads out of it. */
/** How errors name the extracted ISO tree (a path in it that leads out, a name md5sum.txt cannot list). */
export const ISO_TREE = 'the ISO tree';

export interface EscapingLink {
  /** Path of the link, relative to the root. */
  path: string;
  target: string;
}

export function escapingLinkError(what: string, link: EscapingLink): IsoBuildError {
  return new IsoBuildError(`${what}: ${link.path} is a symlink to ${link.target}, which leads out of it`, {
    hint: 'iso-build never writes or reads through a link out of the tree it works on; remove the link (or make it relative, inside the tree)',
    exitCode: ExitCode.Usage,
  });
}

function split(p: string): string[] {
  return p.split('/').filter((s) => s !== '' && s !== '.');
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The host path of `rel` under `root`, following symlinks only while they stay inside the root.
 * @param followLast follow a symlink in the last component (false: the entry itself is meant, e.g. to replace it)
 * @param what names the tree in the error ("the ISO tree")
 */
export function resolveBeneath(root: string, rel: string, opts: { followLast?: boolean; what?: string } = {}): string {
  const base = resolve(root);
  const what = opts.what ?? base;
  const pending = split(rel);
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      if (done.length === 0) throw escapingLinkError(what, { path: rel, target: rel });
      done.pop();
      continue;
    }
    const host = posix.join(base, ...done, part);
    const st = lstatOrUndefined(host);
    if (st?.isSymbolicLink() && (pending.length > 0 || opts.followLast !== false)) {
      const target = readlinkSync(host);
      const link = { path: posix.join(...done, part), target };
      if (++hops > MAX_SYMLINKS) throw new IsoBuildError(`${what}: too many symlinks resolving ${rel}`, { exitCode: ExitCode.Usage });
      if (target.startsWith('/') || !staysInside(done.length, target)) throw escapingLinkError(what, link);
      pending.unshift(...split(target));
      continue;
    }
    done.push(part);
  }
  return posix.join(base, ...done);
}

/** Whether a relative link target, seen from a directory `depth` levels below the root, stays inside it. */
export function staysInside(depth: number, target: string): boolean {
  let d = depth;
  for (const part of split(target)) {
    d += part === '..' ? -1 : 1;
    if (d < 0) return false;
  }
  return true;
}

/** Every symlink under `root` whose target leads out of it (absolute, or `..` past the root), without following any. */
export function escapingLinks(root: string): EscapingLink[] {
  const out: EscapingLink[] = [];
  const walk = (prefix: string, depth: number): void => {
    for (const e of readdirSync(join(root, prefix), { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory()) walk(rel, depth + 1);
      else if (e.isSymbolicLink()) {
        const target = readlinkSync(join(root, rel));
        if (target.startsWith('/') || !staysInside(depth, target)) out.push({ path: rel, target });
      }
    }
  };
  walk('', 0);
  return out;
}

/** Throws naming the first symlink under `root` that leads out of it. */
export function assertNoEscapingLinks(root: string, what: string): void {
  const [first] = escapingLinks(root);
  if (first) throw escapingLinkError(what, first);
}

/**
 * md5sum.txt has one "<md5>  ./path" line per file: a name with a line break cannot be listed (casper's check would
 * read it as two broken lines), so an ISO tree with one is refused, naming it.
 */
export function unlistableName(rel: string): boolean {
  return /[\n\r]/.test(rel);
}

export function unlistableNameError(what: string, rel: string): IsoBuildError {
  return new IsoBuildError(`${what}: the path ${JSON.stringify(rel)} has a line break in its name, which md5sum.txt cannot list`, {
    hint: 'rename it: ISO file names with newlines are not supported',
    exitCode: ExitCode.Usage,
  });
}

/** The ISO tree checks of extraction: no link out of it, no name md5sum.txt cannot list. */
export function checkIsoTree(root: string, what: string): void {
  assertNoEscapingLinks(root, what);
  const walk = (prefix: string): void => {
    for (const e of readdirSync(join(root, prefix), { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (unlistableName(e.name)) throw unlistableNameError(what, rel);
      if (e.isDirectory()) walk(rel);
    }
  };
  walk('');
}

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

/** Writes `rel` under `root` (directories made as needed); symlinks followed only inside the root. Returns its host path. */
export function writeFileBeneath(root: string, rel: string, content: string | Buffer, opts: { mode?: number; what?: string } = {}): string {
  mkdirSync(resolveBeneath(root, posix.dirname(posix.join('/', rel)), { what: opts.what }), { recursive: true, mode: 0o755 });
  const path = resolveBeneath(root, rel, { what: opts.what });
  const fd = openSync(path, WRITE_FLAGS, opts.mode ?? 0o644);
  try {
    if (!fstatSync(fd).isFile()) throw new IsoBuildError(`${opts.what ?? root}: ${rel} is not a regular file`, { exitCode: ExitCode.Usage });
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Reads `rel` under `root` (symlinks followed only inside it); undefined when it does not exist. */
export function readFileBeneath(root: string, rel: string, what?: string): Buffer | undefined {
  const path = resolveBeneath(root, rel, { what });
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
