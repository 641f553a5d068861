/** OS errors of writes to a directory the user named (work, output), as one-line IsoBuildErrors with the right exit code. */
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ExitCode, IsoBuildError } from './errors.js';

/**
 * mkdir -p of a directory the user named, failing as one line: a recursive mkdir reports ENOENT for a directory it
 * cannot make on a read-only file system, so the nearest existing parent is asked why.
 */
export function mkdirNamed(path: string, what: string): string | undefined {
  try {
    return mkdirSync(path, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      let parent = dirname(path);
      while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
      try {
        accessSync(parent, constants.W_OK);
      } catch (why) {
        throw fsError(why, what);
      }
    }
    throw fsError(err, what);
  }
}

/** The OS error behind a failed write to a directory the user named, as one line with the right exit code. */
export function fsError(err: unknown, what: string): IsoBuildError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason: Record<string, string> = {
    EROFS: 'is on a read-only file system',
    EACCES: 'is not writable',
    EPERM: 'is not writable',
    ENOTDIR: 'has a file where a directory should be',
    EEXIST: 'is a file, not a directory',
    ENOSPC: 'has no space left',
    EDQUOT: 'is over its disk quota',
    ENAMETOOLONG: 'has a name too long for the file system',
    ENOENT: 'cannot be made (a parent is missing, or a dangling link)',
    ELOOP: 'cannot be made (a symlink loop on its path)',
  };
  const text = code !== undefined ? reason[code] : undefined;
  if (text === undefined) throw err; // not one a user can act on: the caller's error handling explains it
  return new IsoBuildError(`${what} ${text} (${code})`, {
    hint: code === 'ENOSPC' || code === 'EDQUOT' ? 'free some space there, or choose another directory' : 'choose a writable directory',
    exitCode: code === 'ENOSPC' || code === 'EDQUOT' ? ExitCode.Failed : ExitCode.Usage,
  });
}

