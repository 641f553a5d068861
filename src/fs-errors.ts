/** OS errors of writes to a directory the user named (work, output), as one-line IsoBuildErrors with the right exit code. */
import { ExitCode, IsoBuildError } from './errors.js';

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
  };
  const text = code !== undefined ? reason[code] : undefined;
  if (text === undefined) throw err; // not one a user can act on: the caller's error handling explains it
  return new IsoBuildError(`${what} ${text} (${code})`, {
    hint: code === 'ENOSPC' || code === 'EDQUOT' ? 'free some space there, or choose another directory' : 'choose a writable directory',
    exitCode: code === 'ENOSPC' || code === 'EDQUOT' ? ExitCode.Failed : ExitCode.Usage,
  });
}

