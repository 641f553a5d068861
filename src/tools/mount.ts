/** mount(8)/umount(8) wrapper and a reader of the kernel's mount table, to prove nothing is left mounted. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { run } from './process.js';
import { reapMount, unreapMount } from './reaper.js';
import type { BuildLog } from '../build-log.js';

export interface MountSpec {
  target: string;
  /** e.g. ['-t', 'proc', 'proc'] or ['--bind', '/dev'] */
  args: string[];
  what: string;
}

export async function mount(spec: MountSpec, log?: BuildLog): Promise<void> {
  // Registered before: a SIGKILL may land after mount(8) mounted and before it reported back. A lazy umount of a
  // target that is not mounted does nothing.
  reapMount(resolve(spec.target)); // unmounted by the reaper should iso-build be killed
  try {
    await run('mount', [...spec.args, spec.target], { log, what: `mount ${spec.what} on ${spec.target}` });
  } catch (err) {
    if (!isMounted(spec.target)) unreapMount(resolve(spec.target));
    throw err;
  }
}

/**
 * Unmount one target. A busy mount (a process we could not kill keeps a file open) is detached lazily:
 * it disappears from the mount table at once and the kernel frees it when the last user goes.
 */
export async function unmount(target: string, log?: BuildLog): Promise<void> {
  await unmountOnce(target, log);
  if (!isMounted(target)) unreapMount(resolve(target)); // only now: a SIGKILL half-way leaves it to the reaper
}

async function unmountOnce(target: string, log?: BuildLog): Promise<void> {
  if (!isMounted(target)) return;
  try {
    await run('umount', [target], { log, what: `umount ${target}`, uninterruptible: true });
  } catch {
    // Another closer (the signal handler releasing everything while a stage releases its own) may have won.
    if (!isMounted(target)) return;
    try {
      await run('umount', ['--lazy', target], { log, what: `umount --lazy ${target}`, uninterruptible: true });
    } catch (err) {
      if (isMounted(target)) throw err;
    }
  }
}

/** Mount points at or below `dir`, deepest first (the order to unmount them in). */
export function mountsUnder(dir: string): string[] {
  const root = resolve(dir);
  return mountTable()
    .filter((m) => m === root || m.startsWith(`${root}/`))
    .sort((a, b) => b.length - a.length);
}

export function isMounted(target: string): boolean {
  return mountTable().includes(resolve(target));
}

/** Unmount everything below `dir`; used as the last line of defence after a stage failed. */
export async function unmountAllUnder(dir: string, log?: BuildLog): Promise<void> {
  for (const m of mountsUnder(dir)) await unmount(m, log);
}

function mountTable(): string[] {
  // /proc/self/mountinfo field 5 is the mount point, with spaces etc. octal-escaped.
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ')[4] ?? '')
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}
