/** `iso-build boot ISO`: boot an ISO headless in QEMU (BIOS, UEFI or both) and check its serial console for a marker. */
import { constants } from 'node:fs';
import { access, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ExitCode, usageError } from '../errors.js';
import { result } from '../output.js';
import { DEFAULT_CHECKS, describeCheck, parseExpectAbsent, parseExpectFile, type DiskCheck } from '../install-qa/checks.js';
import { installAndCheck, type InstalledBoot, type InstallQaResult } from '../install-qa/install.js';
import { bootIso, checkBootTools, type Accel, type BootResult, type Firmware } from '../tools/qemu.js';

export interface BootCommandOptions {
  /** 'bios' | 'uefi' | 'both' (default: both, BIOS first). */
  firmware?: string;
  /** A regular expression tested against each serial line. */
  expect?: string;
  /** Seconds to wait for the marker, per firmware. */
  timeout?: number | string;
  /** A log file or an existing directory; default `<iso>.<firmware>.serial.log` beside the ISO (or in a temp dir). */
  log?: string;
  /** 'auto' | 'kvm' | 'tcg' (default auto). */
  accel?: string;
  /** Keep QEMU running after the match until the guest powers off (or the timeout). */
  waitPoweroff?: boolean;
  /** Print one JSON document on stdout instead of the text lines. */
  json?: boolean;
  /** Install QA: boot with a blank disk, wait for the installer's power-off, check the installed disk. */
  install?: boolean;
  expectFile?: string[];
  expectAbsent?: string[];
  /** Size of the blank disk, e.g. 8G, 512M (default 8G, sparse). */
  diskSize?: string;
  /** Keep the installed disk images (beside the logs) instead of deleting them. */
  keepDisk?: boolean;
  /** Boot the installed system and wait for this pattern. */
  installedExpect?: string;
}

/** `boot --json`: one document, the same shape with or without --install. */
export interface BootReport {
  iso: string;
  ok: boolean;
  boots: BootResult[];
  installs?: InstallQaReport[];
}

export interface InstallQaReport {
  firmware: Firmware;
  ok: boolean;
  problem?: string;
  install: BootResult;
  disk?: string;
  root?: { partition: number; offsetBytes: number; sizeBytes: number; type: string };
  checks: { check: string; ok: boolean; detail: string }[];
  installedBoot?: { exit?: string; seconds?: number; matched?: string; logPath?: string; error?: string };
}

export const DEFAULT_EXPECT = 'NOVASPHERE-VERSION: ';
export const DEFAULT_TIMEOUT_SEC = 300;

/** Exit code 0 only if every firmware run matched; 3 (verification) otherwise. */
export async function bootCommand(
  iso: string,
  opts: BootCommandOptions,
  out: (line: string) => void = result,
): Promise<number> {
  const firmwares = parseFirmwareOption(opts.firmware);
  const expect = parseExpectOption(opts.expect);
  const timeoutSec = parseTimeoutOption(opts.timeout);
  const accel = parseAccelOption(opts.accel);
  const isoPath = resolve(iso);
  await checkBootTools(firmwares); // before the first boot, not after a 5-minute BIOS run
  const logDir = opts.log === undefined ? await defaultLogDir(isoPath) : '';
  if (opts.install) return installCommand(isoPath, firmwares, opts, accel, timeoutSec, logDir, out);

  let allMatched = true;
  const boots: BootResult[] = [];
  for (const firmware of firmwares) {
    const logPath = await logPathFor(isoPath, firmware, firmwares.length, opts.log, logDir);
    process.stderr.write(`boot: ${firmware}: waiting up to ${timeoutSec} s for /${expect.source}/ on the serial console\n`);
    const boot = await bootIso({ iso: isoPath, firmware, expect, timeoutSec, logPath, accel, waitPoweroff: opts.waitPoweroff === true });
    boots.push(boot);
    if (!opts.json) out(formatBootResult(boot, timeoutSec));
    if (boot.exit !== 'matched') allMatched = false;
  }
  if (opts.json) out(JSON.stringify({ iso: isoPath, ok: allMatched, boots } satisfies BootReport, null, 2));
  return allMatched ? 0 : ExitCode.Verification;
}

/**
 * `boot --install`: per firmware, a blank disk, the ISO's installer to power-off, then the checks on the disk.
 * Exit 0 only if every install finished and every check held; 3 otherwise (the install ran, its result is wrong).
 */
async function installCommand(
  isoPath: string,
  firmwares: Firmware[],
  opts: BootCommandOptions,
  accel: Accel,
  timeoutSec: number,
  logDir: string,
  out: (line: string) => void,
): Promise<number> {
  const checks: DiskCheck[] = [
    ...(opts.expectFile ?? []).map(parseExpectFile),
    ...(opts.expectAbsent ?? []).map(parseExpectAbsent),
  ];
  if (checks.length === 0) checks.push(...DEFAULT_CHECKS);
  const diskSizeBytes = parseSizeOption(opts.diskSize);
  const installedExpect = opts.installedExpect === undefined ? undefined : parseExpectOption(opts.installedExpect);
  const expect = opts.expect === undefined ? undefined : parseExpectOption(opts.expect);
  const reports: InstallQaReport[] = [];
  const scratch = opts.keepDisk ? undefined : await mkdtemp(join(tmpdir(), 'iso-build-install-'));
  try {
    for (const firmware of firmwares) {
      const logPath = await logPathFor(isoPath, firmware, firmwares.length, opts.log, logDir);
      const stem = logPath.replace(/\.log$/, '');
      const diskPath = scratch ? join(scratch, `disk-${firmware}.img`) : `${stem}.disk.img`;
      process.stderr.write(`boot: ${firmware}: installing to a blank ${opts.diskSize ?? '8G'} disk, waiting up to ${timeoutSec} s for the installer to power off\n`);
      const r = await installAndCheck({
        iso: isoPath, firmware, accel, timeoutSec, logPath, diskPath, diskSizeBytes, checks,
        ...(expect ? { expect } : {}),
        ...(installedExpect ? { installedExpect } : {}),
        installedLogPath: `${stem}.installed.log`,
        installedTimeoutSec: timeoutSec,
      });
      const report = installReport(r, opts.keepDisk === true);
      reports.push(report);
      if (!opts.json) for (const line of formatInstallReport(report, timeoutSec)) out(line);
    }
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
  const ok = reports.every((r) => r.ok);
  if (opts.json) out(JSON.stringify({ iso: isoPath, ok, boots: reports.map((r) => r.install), installs: reports } satisfies BootReport, null, 2));
  return ok ? 0 : ExitCode.Verification;
}

function installReport(r: InstallQaResult, keptDisk: boolean): InstallQaReport {
  return {
    firmware: r.firmware,
    ok: r.ok,
    ...(r.problem ? { problem: r.problem } : {}),
    install: r.install,
    ...(keptDisk ? { disk: r.disk } : {}),
    ...(r.root ? { root: { partition: r.root.number, offsetBytes: r.root.offsetBytes, sizeBytes: r.root.sizeBytes, type: r.root.type } } : {}),
    checks: r.checks.map((c) => ({ check: describeCheck(c.check), ok: c.ok, detail: c.detail })),
    ...(r.installedBoot ? { installedBoot: installedBootReport(r.installedBoot) } : {}),
  };
}

function installedBootReport(b: InstalledBoot): NonNullable<InstallQaReport['installedBoot']> {
  if (!b.result) return { error: b.error ?? 'not booted' };
  const { exit, seconds, matched, logPath } = b.result;
  return { exit, seconds, ...(matched ? { matched } : {}), logPath };
}

function formatInstallReport(r: InstallQaReport, timeoutSec: number): string[] {
  const lines: string[] = [];
  const i = r.install;
  const installed = i.exit === 'timeout' ? `TIMEOUT: no power-off in ${timeoutSec} s` : `installer powered off after ${(i.poweroffSeconds ?? i.seconds).toFixed(1)} s`;
  lines.push(`${r.firmware}/${i.accel}  ${installed}  log ${i.logPath}`);
  if (r.root) lines.push(`  root: partition ${r.root.partition} (type ${r.root.type}) at ${r.root.offsetBytes} bytes, ${Math.round(r.root.sizeBytes / 1048576)} MiB`);
  for (const c of r.checks) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.check}: ${c.detail}`);
  if (r.installedBoot) {
    const b = r.installedBoot;
    lines.push(b.error ? `  FAIL installed boot: ${b.error}` : `  ${b.exit === 'matched' ? 'ok  ' : 'FAIL'} installed boot: ${b.exit} after ${b.seconds} s${b.matched ? `, line: ${b.matched}` : ''}  log ${b.logPath}`);
  }
  if (r.problem) lines.push(`  FAIL ${r.problem}`);
  lines.push(`  ${r.ok ? 'INSTALL OK' : 'INSTALL FAILED'}`);
  return lines;
}

/** 8G, 512M, 1024K or bytes. */
export function parseSizeOption(value: string | undefined): number {
  const m = /^(\d+)([KMGT]?)i?B?$/i.exec((value ?? '8G').trim());
  if (!m) throw usageError(`invalid --disk-size '${value}'`, 'give a size like 8G or 512M');
  const exp = ' KMGT'.indexOf((m[2] || ' ').toUpperCase());
  const bytes = Number(m[1]) * 1024 ** exp;
  if (bytes < 16 * 1048576) throw usageError(`--disk-size ${value} is too small`, 'give at least 16M');
  return bytes;
}

/** One line per boot: firmware, accel, result, time, log, matched line. */
export function formatBootResult(r: BootResult, timeoutSec: number): string {
  const parts = [`${r.firmware}/${r.accel}`, bootOutcome(r, timeoutSec), `log ${r.logPath}`];
  if (r.matched !== undefined) parts.push(`line: ${r.matched}`);
  if (r.note) parts.push(`(${r.note})`);
  return parts.join('  ');
}

function bootOutcome(r: BootResult, timeoutSec: number): string {
  const after = `after ${r.seconds.toFixed(1)} s`;
  switch (r.exit) {
    case 'matched':
      return `matched ${after}${r.poweroffSeconds !== undefined ? `, powered off after ${r.poweroffSeconds.toFixed(1)} s` : ''}`;
    case 'powered-off':
      return `powered off ${after}`;
    case 'timeout':
      return `TIMEOUT: no match in ${timeoutSec} s`;
    case 'guest-exited':
      return `GUEST EXITED without match ${after}`;
  }
}

export function parseFirmwareOption(value: string | undefined): Firmware[] {
  switch ((value ?? 'both').trim().toLowerCase()) {
    case 'bios':
      return ['bios'];
    case 'uefi':
      return ['uefi'];
    case 'both':
      return ['bios', 'uefi'];
    default:
      throw usageError(`invalid --firmware '${value}'`, 'use bios, uefi or both');
  }
}

export function parseAccelOption(value: string | undefined): Accel {
  const v = (value ?? 'auto').trim().toLowerCase();
  if (v === 'auto' || v === 'kvm' || v === 'tcg') return v;
  throw usageError(`invalid --accel '${value}'`, 'use auto, kvm or tcg');
}

export function parseExpectOption(value: string | undefined): RegExp {
  const source = value ?? DEFAULT_EXPECT;
  if (source === '') throw usageError('--expect is empty', 'give a regular expression, e.g. "FIXTURE-DONE"');
  try {
    return new RegExp(source);
  } catch (err) {
    throw usageError(`invalid --expect regular expression: ${err instanceof Error ? err.message : String(err)}`,
      'give a JavaScript regular expression, e.g. "NOVASPHERE-VERSION: [0-9.]+"');
  }
}

export function parseTimeoutOption(value: number | string | undefined): number {
  if (value === undefined) return DEFAULT_TIMEOUT_SEC;
  const n = typeof value === 'number' ? value : value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(n) || n <= 0) throw usageError(`invalid --timeout '${value}'`, 'give a positive number of seconds');
  return n;
}

/** Beside the ISO when that directory is writable (a release dir), else a fresh temp dir (a read-only mount). */
async function defaultLogDir(isoPath: string): Promise<string> {
  try {
    await access(dirname(isoPath), constants.W_OK);
    return dirname(isoPath);
  } catch {
    return mkdtemp(join(tmpdir(), 'iso-build-boot-'));
  }
}

async function logPathFor(
  isoPath: string,
  firmware: Firmware,
  runs: number,
  option: string | undefined,
  defaultDir: string,
): Promise<string> {
  const fileName = `${basename(isoPath)}.${firmware}.serial.log`;
  if (option === undefined) return join(defaultDir, fileName);
  const target = resolve(option);
  if (option.endsWith('/') || (await isDirectory(target))) return join(target, fileName);
  if (runs === 1) return target;
  // One file name for two boots: keep both logs, `boot.log` -> `boot.bios.log`, `boot.uefi.log`.
  const ext = extname(target);
  return `${target.slice(0, target.length - ext.length)}.${firmware}${ext || '.log'}`;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
