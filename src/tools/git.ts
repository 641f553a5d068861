/** git, read-only: the commit time of a revision in the profile's checkout (the release epoch). */
import { run } from './process.js';

/** Seconds since the epoch of `rev`'s commit in the checkout at `dir`; undefined when there is no such revision or checkout. */
export async function commitTime(dir: string, rev: string): Promise<number | undefined> {
  try {
    const { stdout } = await run('git', ['-C', dir, 'log', '-1', '--format=%ct', rev, '--'], { what: 'git log' });
    return /^\d+$/.test(stdout.trim()) ? Number(stdout.trim()) : undefined;
  } catch {
    return undefined; // no such tag, or not a git checkout
  }
}
