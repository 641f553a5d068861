/**
 * A chroot session: the API filesystems a package manager needs, the host's DNS config, and a policy-rc.d
 * that stops maintainer scripts from starting services. close() undoes everything in reverse order and is
 * safe to call after a failed open(), a failed command or an interrupt.
 *
 * The API filesystems are mounted in a private mount namespace held by one small process, and the commands enter it
 * (nsenter): the host's mount table never sees them, and they vanish with the namespace when the holder and the last
 * command in it end: the holder is stopped by close() and by an interrupt, and by its parent-death signal even when
 * iso-build itself is killed.
 */
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { resolveInRoot } from '../rootfs-path.js';
import { IsoBuildError } from '../errors.js';
import { run, type RunResult } from './process.js';
import { reapRoot } from './reaper.js';
import type { BuildLog } from '../build-log.js';

/** The environment of chroot commands: nothing from the build host's environment leaks in. */
const CHROOT_ENV: Record<string, string> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LC_ALL: 'C.UTF-8',
  LANG: 'C.UTF-8',
  DEBIAN_FRONTEND: 'noninteractive',
  DEBCONF_NONINTERACTIVE_SEEN: 'true',
  TERM: 'dumb',
};

const POLICY_RC_D = '#!/bin/sh\n# installed by iso-build for the duration of the build: no service starts in the chroot\nexit 101\n';
const SAVED_SUFFIX = '.iso-build-saved';

export interface ChrootExecOptions {
  env?: Record<string, string>;
  what?: string;
  onLine?: (line: string) => void;
  /** Past this the command's process group is killed and exec fails (timeoutHint names the limit). */
  timeoutMs?: number;
  timeoutHint?: string;
}

/** $1..$4: where proc, sysfs, /dev and /dev/pts go. Prints READY and its pid, then waits to be stopped. */
const HOLDER_SCRIPT =
  'mount -t proc proc "$1" && mount -t sysfs sysfs "$2" && mount --bind /dev "$3" && mount --bind /dev/pts "$4" && ' +
  'echo "READY $$" && exec setpriv --pdeathsig KILL sleep infinity';

export class ChrootSession {
  private holder?: { pid: number; stop: AbortController; ended: Promise<unknown> };
  private readonly restores: { name: string; undo: () => void }[] = [];
  private closed = false;
  private unreap: () => void = () => undefined;

  private constructor(
    readonly root: string,
    private readonly log: BuildLog,
  ) {}

  static async open(root: string, log: BuildLog): Promise<ChrootSession> {
    const session = new ChrootSession(resolve(root), log);
    // Daemons a command starts in the chroot leave its process group: the reaper finds them by their root.
    session.unreap = reapRoot(session.root);
    try {
      await session.startNamespace();
      session.installFile('/etc/resolv.conf', () => copyFileSync('/etc/resolv.conf', session.hostPath('/etc/resolv.conf')));
      session.installFile('/usr/sbin/policy-rc.d', (path) => {
        writeFileSync(path, POLICY_RC_D);
        chmodSync(path, 0o755);
      });
    } catch (err) {
      await session.close();
      throw err;
    }
    return session;
  }

  /** Run a shell command inside the chroot (/bin/sh -c). */
  async exec(command: string, opts: ChrootExecOptions = {}): Promise<RunResult> {
    if (!this.holder) throw new IsoBuildError('chroot session is closed');
    return run('nsenter', ['--target', String(this.holder.pid), '--mount', '--', 'chroot', this.root, '/bin/sh', '-c', command], {
      env: { ...CHROOT_ENV, ...opts.env },
      cleanEnv: true,
      log: this.log,
      what: opts.what ?? `chroot command "${command}"`,
      onLine: opts.onLine,
      timeoutMs: opts.timeoutMs,
      timeoutHint: opts.timeoutHint,
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    killProcessesRootedIn(this.root, this.log);
    for (const r of this.restores.reverse()) {
      try {
        r.undo();
      } catch (err) {
        this.log.line(`warning: could not restore ${r.name}: ${String(err)}`);
      }
    }
    const holder = this.holder;
    this.holder = undefined;
    if (holder) {
      holder.stop.abort();
      await holder.ended; // the namespace and its mounts are gone once the holder has exited
    }
    this.unreap();
  }

  private hostPath(inRoot: string): string {
    return resolveInRoot(this.root, inRoot, false);
  }

  private async startNamespace(): Promise<void> {
    const targets = ['/proc', '/sys', '/dev', '/dev/pts'].map((dir) => {
      const target = resolveInRoot(this.root, dir);
      mkdirSync(target, { recursive: true });
      return target;
    });
    const stop = new AbortController();
    let ready: (pid: number) => void = () => undefined;
    const started = new Promise<number>((resolve) => (ready = resolve));
    const ended = run('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', HOLDER_SCRIPT, 'sh', ...targets], {
      signal: stop.signal,
      log: this.log,
      what: `mount namespace of the chroot session (proc, sysfs, /dev, /dev/pts in ${this.root})`,
      onLine: (line) => {
        const m = /^READY (\d+)$/.exec(line);
        if (m) ready(Number(m[1]));
      },
    });
    const settled = ended.then(
      () => undefined,
      (err: unknown) => err,
    );
    const early = settled.then((err) => {
      throw err ?? new IsoBuildError('the chroot session\'s mount namespace ended before it was ready');
    });
    const pid = await Promise.race([started, early]);
    this.holder = { pid, stop, ended: settled };
  }

  /** Replace a file in the rootfs for the session and put the original (file or symlink) back afterwards. */
  private installFile(inRoot: string, write: (hostPath: string) => void): void {
    const path = this.hostPath(inRoot);
    const saved = path + SAVED_SUFFIX;
    const existed = lexists(path);
    if (existed) renameSync(path, saved);
    this.restores.push({
      name: inRoot,
      undo: () => {
        rmSync(path, { force: true });
        if (existed) renameSync(saved, path);
      },
    });
    mkdirSync(dirname(path), { recursive: true });
    write(path);
  }
}

function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Processes a chroot command left behind (daemons, stuck children) would keep the mounts busy. */
function killProcessesRootedIn(root: string, log: BuildLog): void {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let procRoot: string;
    try {
      procRoot = readlinkSync(`/proc/${pid}/root`);
    } catch {
      continue;
    }
    if (procRoot === root || procRoot.startsWith(`${root}/`)) {
      log.line(`killing process ${pid} left running inside the chroot`);
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
  }
}

