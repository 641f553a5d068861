/**
 * A lock file that names its owner: host, boot, pid and the pid's start time (field 22 of /proc/PID/stat), so a lock
 * whose owner is gone, even by SIGKILL or a reboot, is taken over at once, and a pid reused by another process does not
 * count as the owner. Taking the lock is atomic: the owner record is written to a private file and hard-linked to the
 * lock's name (link(2) fails when the name exists). Used for the shared apt state in the cache and the work directory.
 */
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ExitCode, IsoBuildError } from './errors.js';
import { interruptSignal } from './lifecycle.js';

export interface LockOwner {
  pid: number;
  /** Clock ticks after boot at which `pid` started (/proc/PID/stat field 22). */
  startTime: string;
  bootId: string;
  host: string;
  /** What holds it, for the message a waiting build prints ("iso-build build profiles/x.yaml"). */
  what: string;
  since: string;
}

export interface OwnerLock {
  readonly file: string;
  release(): void;
}

export type TryLockResult = { lock: OwnerLock } | { heldBy: LockOwner };

/** The start time of `pid` in clock ticks after boot, or undefined when no such process runs. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces or ')': the fields after the last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19]; // field 22 overall: fields 3.. start at index 0
  } catch {
    return undefined;
  }
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

export function currentOwner(what: string): LockOwner {
  return { pid: process.pid, startTime: processStartTime(process.pid) ?? '?', bootId: bootId(), host: hostname(), what, since: new Date().toISOString() };
}

/** False only when the owner provably is gone: same host, and another boot or no process with that pid and start time. */
export function ownerAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true; // a shared cache on another machine's build: cannot tell
  if (owner.bootId !== bootId()) return false;
  return processStartTime(owner.pid) === owner.startTime;
}

export function describeOwner(owner: LockOwner): string {
  return `${owner.what} (pid ${owner.pid} on ${owner.host}, since ${owner.since})`;
}

function readOwner(file: string): LockOwner | undefined | 'absent' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw lockError(file, err);
  }
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.pid === 'number' && typeof o.startTime === 'string' && typeof o.bootId === 'string' && typeof o.host === 'string') {
      return { what: 'an unnamed process', since: '?', ...o } as LockOwner;
    }
  } catch {
    /* not an owner record */
  }
  return undefined; // garbage under the lock's name: no owner to wait for
}

function lockError(file: string, err: unknown): IsoBuildError {
  return new IsoBuildError(`cannot use the lock file ${file}: ${(err as Error).message}`, {
    hint: 'the directory must be writable by the build (root)',
    exitCode: ExitCode.Usage,
  });
}

/** One attempt: the lock, or its live owner. A dead owner's lock is taken over. */
export function tryLock(file: string, what: string): TryLockResult {
  const me = currentOwner(what);
  const mine = `${file}.${process.pid}.new`;
  try {
    writeFileSync(mine, `${JSON.stringify(me)}\n`);
  } catch (err) {
    throw lockError(file, err);
  }
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(mine, file);
        return { lock: { file, release: () => releaseIfMine(file, me) } };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw lockError(file, err);
      }
      const owner = readOwner(file);
      if (owner === 'absent') continue;
      if (owner && ownerAlive(owner)) return { heldBy: owner };
      // The owner is gone: move its record aside (only one of several racing builds succeeds: the name vanishes).
      const stale = `${file}.${process.pid}.stale`;
      try {
        renameSync(file, stale);
      } catch {
        continue;
      }
      const moved = readOwner(stale);
      const same = moved !== 'absent' && JSON.stringify(moved) === JSON.stringify(owner);
      if (!same) {
        // Another build took the lock in between: put its record back (link: never over a newer one).
        try {
          linkSync(stale, file);
        } catch {
          /* a third one holds it now */
        }
      }
      rmSync(stale, { force: true });
    }
    const owner = readOwner(file);
    if (owner !== 'absent' && owner) return { heldBy: owner };
    throw new IsoBuildError(`cannot take the lock file ${file}: it keeps changing`, { hint: 'remove it if no build runs' });
  } finally {
    rmSync(mine, { force: true });
  }
}

function releaseIfMine(file: string, me: LockOwner): void {
  const owner = readOwner(file);
  if (owner !== 'absent' && owner && owner.pid === me.pid && owner.startTime === me.startTime && owner.since === me.since) rmSync(file, { force: true });
}

export interface WaitOptions {
  /** Called when the lock is found held, and again every `reportEveryMs` while waiting. */
  onWait?: (owner: LockOwner, waitedMs: number) => void;
  reportEveryMs?: number;
  pollMs?: number;
}

/**
 * Wait for the lock, saying who holds it. Ctrl-C (the process-wide interrupt) ends the wait with exit 130; a dead
 * owner's lock is taken at once.
 */
export async function acquireLock(file: string, what: string, opts: WaitOptions = {}): Promise<OwnerLock> {
  const started = Date.now();
  let reported = -Infinity;
  const interrupted = interruptSignal();
  for (;;) {
    if (interrupted.aborted) throw new IsoBuildError(`interrupted while waiting for the lock ${file}`, { exitCode: ExitCode.Interrupted });
    const got = tryLock(file, what);
    if ('lock' in got) return got.lock;
    const waited = Date.now() - started;
    if (waited - reported >= (opts.reportEveryMs ?? 30_000)) {
      opts.onWait?.(got.heldBy, waited);
      reported = waited;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, opts.pollMs ?? 500);
      function done(): void {
        clearTimeout(timer);
        interrupted.removeEventListener('abort', done);
        resolve();
      }
      interrupted.addEventListener('abort', done);
    });
  }
}

const heldForLife: OwnerLock[] = [];
let exitHookInstalled = false;

/**
 * Takes `file`'s lock at once and holds it until released or this process exits, however it exits (after a SIGKILL
 * the next build takes it over: its owner is gone). Taking a lock this process holds already is a no-op. A live
 * owner elsewhere ends in the error `busy` makes of it.
 */
export function holdLock(file: string, what: string, busy: (owner: LockOwner) => IsoBuildError): OwnerLock {
  const held = heldForLife.find((l) => l.file === file);
  if (held) return held;
  const got = tryLock(file, what);
  if ('heldBy' in got) throw busy(got.heldBy);
  const lock: OwnerLock = {
    file,
    release: () => {
      const i = heldForLife.indexOf(lock);
      if (i >= 0) heldForLife.splice(i, 1);
      got.lock.release();
    },
  };
  heldForLife.push(lock);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const l of [...heldForLife]) l.release();
    });
  }
  return lock;
}

/** What a build's lock records as its owner: the command line, bounded. */
export function buildCommandLine(): string {
  return `iso-build ${process.argv.slice(2).join(' ')}`.slice(0, 200);
}
