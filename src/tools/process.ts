/**
 * The only place that starts processes. Every child runs in its own process group so that an interrupt
 * (or a failed build) can stop it with everything it started (chroot'd shells, apt's dpkg, ...).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import { ExitCode, IsoBuildError } from '../errors.js';
import { interruptSignal } from '../lifecycle.js';
import type { BuildLog } from '../build-log.js';
import { REAP_ENV, reapGroup, reapToken, unreapGroup } from './reaper.js';

export interface RunOptions {
  cwd?: string;
  /** Extra environment; `undefined` values remove a variable. */
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** Cancels the command (in addition to the process-wide interrupt). */
  signal?: AbortSignal;
  /** Output lines are appended here, prefixed by the program name. */
  log?: BuildLog;
  /** Called for every output line (stdout and stderr), e.g. to show progress. */
  onLine?: (line: string) => void;
  /** Human description of what the command does, used in error messages. */
  what?: string;
  /** Exit codes that are not failures. */
  okExitCodes?: number[];
  /** Keep stdout as a Buffer (binary output). */
  binary?: boolean;
  /** Lines for which this returns true are progress: shown via onLine, kept out of the log. */
  isProgress?: (line: string) => boolean;
  /** Cleanup commands (umount, ...) must run even after an interrupt. */
  uninterruptible?: boolean;
  /** Start from an empty environment (plus `env`) instead of the host's, e.g. for chroot commands. */
  cleanEnv?: boolean;
  /** Past this, the command's process group is killed and the run fails saying so (`timeoutHint` names the limit). */
  timeoutMs?: number;
  timeoutHint?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const KILL_GRACE_MS = 3000;
const live = new Set<number>();

/** Kill every process group still running (used by the interrupt handler and as a last resort). */
export function killAllChildren(signal: NodeJS.Signals = 'SIGTERM'): void {
  for (const pid of live) killGroup(pid, signal);
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

export async function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const what = opts.what ?? `${file} ${args.slice(0, 3).join(' ')}`.trim();
  const interrupted = opts.uninterruptible ? new AbortController().signal : interruptSignal();
  if (interrupted.aborted || opts.signal?.aborted) throw interruptedError(what);
  opts.log?.line(`$ ${[file, ...args].map(shellQuote).join(' ')}`);

  const child: ResultPromise = execa(file, [...args], {
    cwd: opts.cwd,
    // The reaper's token (reaper.ts) goes to every host command; a clean environment (chroot) stays clean, the reaper
    // finds those processes by their root.
    env: opts.cleanEnv ? { ...opts.env } : { LC_ALL: 'C', [REAP_ENV]: reapToken(), ...opts.env },
    extendEnv: !opts.cleanEnv,
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    detached: true,
    reject: false,
    stripFinalNewline: false,
    encoding: opts.binary ? 'buffer' : 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const pid = child.pid;
  if (pid !== undefined) {
    live.add(pid);
    reapGroup(pid); // killed by the reaper should iso-build die without running the finally below
  }

  let killTimer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    if (pid === undefined) return;
    killGroup(pid, 'SIGTERM');
    killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
    killTimer.unref();
  };
  interrupted.addEventListener('abort', stop);
  opts.signal?.addEventListener('abort', stop);
  let timedOut = false;
  const limit =
    opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          opts.log?.line(`${what}: time limit of ${opts.timeoutMs! / 1000} s reached, killing its process group`);
          stop();
        }, opts.timeoutMs);

  const tail: string[] = [];
  const onText = (chunk: Buffer | string): void => {
    for (const raw of chunk.toString().split(/\r|\n/)) {
      const line = raw.trimEnd();
      if (!line) continue;
      opts.onLine?.(line);
      if (opts.isProgress?.(line)) continue;
      opts.log?.line(`  ${line}`);
      tail.push(line);
      if (tail.length > 12) tail.shift();
    }
  };
  if (!opts.binary) child.stdout?.on('data', onText);
  else child.stdout?.on('data', () => undefined);
  child.stderr?.on('data', onText);

  try {
    const result = await child;
    if (interrupted.aborted || opts.signal?.aborted) throw interruptedError(what);
    if (timedOut) {
      throw new IsoBuildError(`${what} timed out after ${opts.timeoutMs! / 1000} s and was killed`, {
        hint: [opts.timeoutHint, opts.log ? `output in ${opts.log.path}` : undefined].filter(Boolean).join('; ') || undefined,
      });
    }
    const exitCode = result.exitCode ?? -1;
    const ok = exitCode === 0 || (opts.okExitCodes ?? []).includes(exitCode);
    if (!ok) {
      if (result.failed && result.exitCode === undefined && result.code === 'ENOENT') {
        throw new IsoBuildError(`${file} is not installed`, {
          hint: 'install the system packages listed in the README (scripts/setup does it)',
          exitCode: ExitCode.Usage,
        });
      }
      const reason = result.signal ? `killed by ${result.signal}` : `exit code ${exitCode}`;
      const last = tail.slice(-6).join(' | ');
      throw new IsoBuildError(`${what} failed (${reason})${last ? `: ${last}` : ''}`, {
        hint: opts.log ? `full output in ${opts.log.path}` : undefined,
      });
    }
    return {
      stdout: typeof result.stdout === 'string' ? result.stdout : '',
      stderr: typeof result.stderr === 'string' ? result.stderr : '',
      exitCode,
      ...(opts.binary ? { stdoutBuffer: result.stdout } : {}),
    };
  } finally {
    interrupted.removeEventListener('abort', stop);
    opts.signal?.removeEventListener('abort', stop);
    if (killTimer) clearTimeout(killTimer);
    if (limit) clearTimeout(limit);
    if (pid !== undefined) {
      live.delete(pid);
      killGroup(pid, 'SIGKILL'); // nothing the command started may outlive it
      unreapGroup(pid);
    }
  }
}

/**
 * Kill every process whose environment holds `name=value` (a token given to one command): what it left running after
 * it ended, even in a session of its own (setsid, a daemon) where its process group does not reach. Returns what was
 * killed ("pid command") so the caller can report it.
 */
export function killProcessesWithEnv(name: string, value: string): string[] {
  const needle = Buffer.from(`\0${name}=${value}\0`);
  const killed: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ: Buffer;
    try {
      environ = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${entry}/environ`)]);
    } catch {
      continue; // gone, or a kernel thread
    }
    if (!environ.includes(needle)) continue;
    let command = '?';
    try {
      command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      /* gone */
    }
    try {
      process.kill(Number(entry), 'SIGKILL');
      killed.push(`${entry} ${command}`);
    } catch {
      /* gone already */
    }
  }
  return killed;
}

/** Like run(), but returns stdout as bytes. */
export async function runBinary(file: string, args: readonly string[], opts: RunOptions = {}): Promise<Buffer> {
  const res = (await run(file, args, { ...opts, binary: true })) as RunResult & { stdoutBuffer?: Uint8Array };
  return Buffer.from(res.stdoutBuffer ?? new Uint8Array());
}

export function interruptedError(what: string): IsoBuildError {
  return new IsoBuildError(`interrupted during ${what}`, { exitCode: ExitCode.Interrupted });
}

export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
