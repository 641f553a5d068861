/** `iso-build boot ISO`: boot an ISO headless in QEMU (BIOS, UEFI or both) and check its serial console for a marker. */
import { constants } from 'node:fs';
import { access, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ExitCode, usageError } from '../errors.js';
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
}

export const DEFAULT_EXPECT = 'NOVASPHERE-VERSION: ';
export const DEFAULT_TIMEOUT_SEC = 300;

/** Exit code 0 only if every firmware run matched; 3 (verification) otherwise. */
export async function bootCommand(
  iso: string,
  opts: BootCommandOptions,
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<number> {
  const firmwares = parseFirmwareOption(opts.firmware);
  const expect = parseExpectOption(opts.expect);
  const timeoutSec = parseTimeoutOption(opts.timeout);
  const accel = parseAccelOption(opts.accel);
  const isoPath = resolve(iso);
  await checkBootTools(firmwares); // before the first boot, not after a 5-minute BIOS run
  const logDir = opts.log === undefined ? await defaultLogDir(isoPath) : '';

  let allMatched = true;
  for (const firmware of firmwares) {
    const logPath = await logPathFor(isoPath, firmware, firmwares.length, opts.log, logDir);
    process.stderr.write(`boot: ${firmware}: waiting up to ${timeoutSec} s for /${expect.source}/ on the serial console\n`);
    const result = await bootIso({ iso: isoPath, firmware, expect, timeoutSec, logPath, accel });
    out(formatBootResult(result, timeoutSec));
    if (result.exit !== 'matched') allMatched = false;
  }
  return allMatched ? 0 : ExitCode.Verification;
}

/** One line per boot: firmware, accel, result, time, log, matched line. */
export function formatBootResult(r: BootResult, timeoutSec: number): string {
  const outcome =
    r.exit === 'matched'
      ? `matched after ${r.seconds.toFixed(1)} s`
      : r.exit === 'timeout'
        ? `TIMEOUT: no match in ${timeoutSec} s`
        : `GUEST EXITED without match after ${r.seconds.toFixed(1)} s`;
  const parts = [`${r.firmware}/${r.accel}`, outcome, `log ${r.logPath}`];
  if (r.matched !== undefined) parts.push(`line: ${r.matched}`);
  if (r.note) parts.push(`(${r.note})`);
  return parts.join('  ');
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
