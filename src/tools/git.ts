/** git, read-only: the commit time of a revision in the profile's checkout (the release epoch). */
import { run } from './process.js';

/** Seconds since the epoch of `rev`'s commit in the checkout at `dir`; undefined when there is no such revision or checkout. */
export async function commitTime(dir: string, rev: string): Promise<number | undefined> {
  try {
    // safe.directory: in a CI container the checkout belongs to another uid than root, and git refuses to read it
    // ("detected dubious ownership"). The command line is protected configuration (git-config(1), safe.directory),
    // and this call only reads a commit time.
    const { stdout } = await run('git', ['-c', 'safe.directory=*', '-C', dir, 'log', '-1', '--format=%ct', rev, '--'], { what: 'git log' });
    return /^\d+$/.test(stdout.trim()) ? Number(stdout.trim()) : undefined;
  } catch {
    return undefined; // no such tag, or not a git checkout
  }
}
