/**
 * Work-directory preparation. iso-build clears only what it owns: a directory that is absent, empty, or carries its
 * marker file (or, from before the marker, holds nothing but a build's own entries). A lock file held for the build's
 * life keeps a second build out; a lock whose owner is gone (owner-lock.ts: pid + process start time) is taken over
 * at once. What an earlier build left there goes (mounts first), except its stage cache.
 */
import { lstatSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { ExitCode, IsoBuildError, usageError } from './errors.js';
import { fsError, mkdirNamed } from './fs-errors.js';
import { buildCommandLine, describeOwner, holdLock } from './owner-lock.js';
import { stageCacheDir } from './stage-cache.js';
import { isMounted, unmountAllUnder } from './tools/mount.js';

/** The file that says iso-build made this directory and may clear it. */
export const WORK_MARKER = '.iso-build-work';
export const WORK_LOCK = '.iso-build-lock';

/** What a build of an iso-build without the marker left in its work directory (context.ts workPaths, stage cache). */
const LEGACY_ENTRIES = new Set(['iso', 'iso.kept', 'iso-changes', 'iso-overlay-work', 'rootfs', 'changes', 'merged', 'lowers', 'overlay-work', 'verify', 'build.log', 'stage-cache']);

/**
 * Checks that `root` may be used as a work directory for a build publishing to `outputDir`, takes its lock, marks it
 * as iso-build's and clears it.
 */
export async function prepareWorkDir(root: string, outputDir: string): Promise<void> {
  const work = realOrResolved(root);
  const output = realOrResolved(outputDir);
  const hint = 'pass --work with a new or empty directory (iso-build marks the ones it made, and clears only those)';
  if (work === '/') throw usageError('the work directory must not be /', hint);
  if (work === output || output.startsWith(`${work}${sep}`) || work.startsWith(`${output}${sep}`)) {
    throw usageError(`the work directory ${root} must not be, contain or lie inside the output directory ${outputDir}`, 'give --work and --output separate directories');
  }
  const st = lstatIfExists(work);
  if (st && !st.isDirectory()) throw usageError(`the work directory ${root} is not a directory`, hint);
  if (st && isMounted(work)) {
    throw usageError(`the work directory ${root} is a mount point`, 'iso-build clears its work directory and unmounts what it mounted there: give it a directory inside the mount, not the mount itself');
  }
  if (st && !ownedByIsoBuild(work)) {
    throw usageError(`the work directory ${root} holds files iso-build did not make (no ${WORK_MARKER} in it)`, hint);
  }
  mkdirNamed(work, `the work directory ${root}`);
  try {
    writeFileSync(join(work, WORK_MARKER), 'made by iso-build: its work directory (scratch, stage cache, build.log); safe to delete\n');
  } catch (err) {
    throw fsError(err, `the work directory ${root}`);
  }
  takeWorkLock(work);
  // A killed earlier build may have left mounts here; never delete through them.
  await unmountAllUnder(work);
  clearWorkDir(work);
}

/** The real path of `p`, or of its nearest existing parent joined with the rest (a symlinked parent counts). */
function realOrResolved(p: string): string {
  const abs = resolve(p);
  try {
    return realpathSync(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : join(realOrResolved(parent), basename(abs));
  }
}

function lstatIfExists(p: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

function ownedByIsoBuild(dir: string): boolean {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw fsError(err, `the work directory ${dir}`);
  }
  if (names.length === 0 || names.includes(WORK_MARKER)) return true;
  return names.includes('build.log') && names.every((n) => LEGACY_ENTRIES.has(n) || n === WORK_LOCK);
}

/** Everything of an earlier build goes, except its stage cache (stage-cache.ts), the marker and the lock. */
function clearWorkDir(root: string): void {
  const keep = new Set([basename(stageCacheDir(root)), WORK_MARKER, WORK_LOCK]);
  for (const name of readdirSync(root)) if (!keep.has(name)) rmSync(join(root, name), { recursive: true, force: true });
}

/** Holds `root`'s lock until this process exits (owner-lock.ts: a dead owner's lock is taken over); throws at once when a live build holds it. */
function takeWorkLock(root: string): void {
  holdLock(join(root, WORK_LOCK), buildCommandLine(), (owner) =>
    new IsoBuildError(`the work directory ${root} is in use by another build: ${describeOwner(owner)}`, {
      hint: 'wait for that build to finish, or pass another --work',
      exitCode: ExitCode.Usage,
    }),
  );
}
