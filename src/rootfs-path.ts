/**
 * Resolve a path inside a root directory the way the kernel would inside a chroot: absolute symlinks
 * point at the root, `..` stops at the root. The host path returned is always inside `root`, so writing
 * to it can never touch the build host (Ubuntu rootfs have absolute symlinks such as /lib -> usr/lib).
 */
import { lstatSync, mkdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { IsoBuildError } from './errors.js';

const MAX_SYMLINKS = 40;

/**
 * @param followLast follow a symlink in the last component (false when you are about to replace the entry itself)
 */
export function resolveInRoot(root: string, inRootPath: string, followLast = true): string {
  const base = resolve(root);
  const pending = splitPath(inRootPath);
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = posix.join(base, ...done, part);
    const isLast = pending.length === 0;
    let st;
    try {
      st = lstatSync(host);
    } catch {
      done.push(part); // does not exist (yet): nothing to follow
      continue;
    }
    if (st.isSymbolicLink() && (!isLast || followLast)) {
      if (++hops > MAX_SYMLINKS) {
        throw new IsoBuildError(`too many symlinks resolving ${inRootPath} inside ${root}`);
      }
      const target = readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      pending.unshift(...splitPath(target));
      continue;
    }
    done.push(part);
  }
  return posix.join(base, ...done);
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s !== '' && s !== '.');
}

/** Writes a file inside the root without following a symlink out of it (the entry itself is replaced); returns its host path. */
export function writeInRoot(root: string, inRoot: string, content: string | Buffer, mode = 0o644): string {
  const dir = resolveInRoot(root, dirname(inRoot));
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, basename(inRoot));
  rmSync(path, { force: true });
  writeFileSync(path, content, { mode });
  return path;
}
