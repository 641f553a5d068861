/**
 * Install QA: boot an ISO with a blank virtual disk, let its installer run to power-off, then look at what it
 * installed: files read from the ext4 root with debugfs (no mount), and optionally a boot of the installed system
 * (its /boot kernel and initrd, network off) waiting for a marker. Works for any installer that writes an ext4
 * root to the first virtual disk (/dev/vda).
 */
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExtImage } from '../tools/debugfs.js';
import { bootIso, type Accel, type BootResult, type Firmware } from '../tools/qemu.js';
import { runDiskCheck, type DiskCheck, type DiskCheckResult } from './checks.js';
import { findExtRoot, type Partition } from './partitions.js';

export interface InstallQaOptions {
  iso: string;
  firmware: Firmware;
  accel: Accel;
  /** Seconds for the install (boot to power-off). */
  timeoutSec: number;
  /** A line the installer prints when it finished; only reported, the power-off ends the install. */
  expect?: RegExp;
  logPath: string;
  diskPath: string;
  diskSizeBytes: number;
  checks: readonly DiskCheck[];
  /** Boot the installed system and wait for this pattern. */
  installedExpect?: RegExp;
  installedLogPath: string;
  installedTimeoutSec: number;
}

export interface InstalledBoot {
  result?: BootResult;
  kernel?: string;
  initrd?: string;
  error?: string;
}

export interface InstallQaResult {
  firmware: Firmware;
  install: BootResult;
  disk: string;
  root?: Partition;
  checks: DiskCheckResult[];
  installedBoot?: InstalledBoot;
  ok: boolean;
  /** Why the QA failed before or instead of a check, if it did. */
  problem?: string;
}

export async function installAndCheck(o: InstallQaOptions): Promise<InstallQaResult> {
  await createBlankDisk(o.diskPath, o.diskSizeBytes);
  const install = await bootIso({
    iso: o.iso,
    firmware: o.firmware,
    accel: o.accel,
    timeoutSec: o.timeoutSec,
    logPath: o.logPath,
    disks: [o.diskPath],
    ...(o.expect ? { expect: o.expect } : {}),
    waitPoweroff: true,
  });
  const base = { firmware: o.firmware, install, disk: o.diskPath, checks: [] as DiskCheckResult[] };
  if (install.exit === 'timeout') return { ...base, ok: false, problem: `the installer did not power off within ${o.timeoutSec} s` };
  if (install.exit === 'guest-exited') return { ...base, ok: false, problem: `the guest powered off without printing /${o.expect?.source}/` };
  const root = await findExtRoot(o.diskPath);
  if (!root) {
    const why = await lastTelltale(o.logPath);
    return { ...base, ok: false, problem: `no ext2/3/4 file system on the disk: nothing was installed${why ? ` (serial log: ${why})` : ''}` };
  }
  const fs = new ExtImage(o.diskPath, root.offsetBytes);
  const checks: DiskCheckResult[] = [];
  for (const c of o.checks) checks.push(await runDiskCheck(fs, c));
  let installedBoot: InstalledBoot | undefined;
  if (o.installedExpect) {
    installedBoot = await bootInstalled(fs, root, { diskPath: o.diskPath, accel: o.accel, timeoutSec: o.installedTimeoutSec, logPath: o.installedLogPath, expect: o.installedExpect });
  }
  const ok = checks.every((c) => c.ok) && (installedBoot === undefined || installedBoot.result?.exit === 'matched');
  return { ...base, root, checks, ...(installedBoot ? { installedBoot } : {}), ok };
}

/** The line of the serial log that most likely says why an install wrote nothing (a panic, an installer error). */
async function lastTelltale(logPath: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(logPath, 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  return lines.reverse().find((l) => /Kernel panic|INSTALLER-FAILED|CASPER-PANIC|error|failed/i.test(l))?.slice(0, 200);
}

/** A sparse file: costs no space until the installer writes. */
async function createBlankDisk(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(size);
  } finally {
    await fh.close();
  }
}

export interface InstalledBootOptions {
  diskPath: string;
  accel: Accel;
  timeoutSec: number;
  logPath: string;
  expect: RegExp;
  /** After the match, wait until the guest powers off (a clean shutdown) instead of ending qemu at once. */
  waitPoweroff?: boolean;
}

/** Boots an installed disk again (its ext root found as after an install): repeated first-boot checks on one disk. */
export async function bootInstalledDisk(o: InstalledBootOptions): Promise<InstalledBoot> {
  const root = await findExtRoot(o.diskPath);
  if (!root) return { error: `no ext2/3/4 file system on ${o.diskPath}` };
  return bootInstalled(new ExtImage(o.diskPath, root.offsetBytes), root, o);
}

/** The installed kernel and initrd (/boot/vmlinuz, /boot/initrd.img, symlinks followed), booted with root= the partition. */
async function bootInstalled(fs: ExtImage, root: Partition, o: InstalledBootOptions): Promise<InstalledBoot> {
  const kernel = await fs.resolve('/boot/vmlinuz');
  if (!kernel) return { error: 'no /boot/vmlinuz on the installed disk' };
  const initrd = await fs.resolve('/boot/initrd.img');
  const tmp = await mkdtemp(join(tmpdir(), 'iso-build-installed-'));
  try {
    const kernelFile = join(tmp, 'vmlinuz');
    await fs.dump(kernel.path, kernelFile);
    let initrdFile: string | undefined;
    if (initrd) {
      initrdFile = join(tmp, 'initrd.img');
      await fs.dump(initrd.path, initrdFile);
    }
    const rootDev = root.number === 0 ? '/dev/vda' : `/dev/vda${root.number}`;
    const result = await bootIso({
      firmware: 'bios',
      accel: o.accel,
      timeoutSec: o.timeoutSec,
      logPath: o.logPath,
      disks: [o.diskPath],
      expect: o.expect,
      ...(o.waitPoweroff ? { waitPoweroff: true } : {}),
      directKernel: { kernel: kernelFile, ...(initrdFile ? { initrd: initrdFile } : {}), append: `root=${rootDev} rw console=ttyS0,115200 panic=5 no_timer_check` },
    });
    return { result, kernel: kernel.path, ...(initrd ? { initrd: initrd.path } : {}) };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
