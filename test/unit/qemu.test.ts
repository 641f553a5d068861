import { describe, expect, it } from 'vitest';
import { isIsoBuildError } from '../../src/errors.js';
import {
  cleanSerialLine,
  qemuArgs,
  resolveAccel,
  type BootResult,
  type QemuArgsOptions,
} from '../../src/tools/qemu.js';
import {
  formatBootResult,
  parseAccelOption,
  parseExpectOption,
  parseFirmwareOption,
  parseTimeoutOption,
} from '../../src/commands/boot.js';

const base: QemuArgsOptions = {
  iso: '/r/out.iso',
  firmware: 'bios',
  expect: /X/,
  timeoutSec: 10,
  logPath: '/r/serial.log',
  accel: 'tcg',
};

/** The value following `flag`, for each occurrence. */
function values(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1] ?? ''] : []));
}

function usageCode(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return isIsoBuildError(err) ? err.exitCode : -1;
  }
  return undefined;
}

describe('qemuArgs', () => {
  it('BIOS + TCG: headless, serial to the log, ISO as a read-only CD-ROM, no firmware drives', () => {
    const args = qemuArgs(base);
    expect(values(args, '-machine')).toEqual(['q35,accel=tcg']);
    expect(values(args, '-cpu')).toEqual(['max']);
    expect(values(args, '-display')).toEqual(['none']);
    expect(values(args, '-monitor')).toEqual(['none']);
    expect(values(args, '-serial')).toEqual(['file:/r/serial.log']);
    expect(values(args, '-nic')).toEqual(['none']);
    expect(args).toContain('-no-reboot');
    expect(values(args, '-drive')).toEqual(['file=/r/out.iso,media=cdrom,readonly=on,format=raw']);
    expect(values(args, '-boot')).toEqual(['d']);
    expect(values(args, '-m')).toEqual(['2048']);
    expect(values(args, '-smp')).toEqual(['2']);
  });

  it('KVM uses the host CPU, without the MSR nested hypervisors refuse', () => {
    const args = qemuArgs({ ...base, accel: 'kvm' });
    expect(values(args, '-machine')).toEqual(['q35,accel=kvm']);
    expect(values(args, '-cpu')).toEqual(['host,-arch-capabilities']);
  });

  it('UEFI adds read-only OVMF code and the writable VARS copy, in that order', () => {
    const args = qemuArgs({ ...base, firmware: 'uefi', varsPath: '/tmp/x/VARS.fd', ovmfCode: '/fw/CODE.fd' });
    expect(values(args, '-drive')).toEqual([
      'file=/r/out.iso,media=cdrom,readonly=on,format=raw',
      'if=pflash,format=raw,readonly=on,file=/fw/CODE.fd',
      'if=pflash,format=raw,file=/tmp/x/VARS.fd',
    ]);
  });

  it('UEFI without a VARS copy is a programming error (never boot on the shared template)', () => {
    expect(() => qemuArgs({ ...base, firmware: 'uefi' })).toThrow(/varsPath/);
  });

  it('disk media attaches the image as a virtio disk, without -boot d', () => {
    const args = qemuArgs({ ...base, media: 'disk' });
    expect(values(args, '-drive')).toEqual(['file=/r/out.iso,if=virtio,readonly=on,format=raw']);
    expect(args).not.toContain('-boot');
  });

  it('memory, cpus and extra args (last, so they can override)', () => {
    const args = qemuArgs({ ...base, memoryMiB: 4096, cpus: 1, extraArgs: ['-cpu', 'qemu64'] });
    expect(values(args, '-m')).toEqual(['4096']);
    expect(values(args, '-smp')).toEqual(['1']);
    expect(args.slice(-2)).toEqual(['-cpu', 'qemu64']);
  });

  it('doubles commas in -drive paths but not in the serial file path', () => {
    const args = qemuArgs({ ...base, iso: '/r/a,b.iso', logPath: '/r/c,d.log' });
    expect(values(args, '-drive')[0]).toBe('file=/r/a,,b.iso,media=cdrom,readonly=on,format=raw');
    expect(values(args, '-serial')).toEqual(['file:/r/c,d.log']);
  });
});

describe('option parsing', () => {
  it('firmware: default both (BIOS first), case-insensitive, rejects others with a usage error', () => {
    expect(parseFirmwareOption(undefined)).toEqual(['bios', 'uefi']);
    expect(parseFirmwareOption('both')).toEqual(['bios', 'uefi']);
    expect(parseFirmwareOption('BIOS')).toEqual(['bios']);
    expect(parseFirmwareOption('uefi')).toEqual(['uefi']);
    expect(usageCode(() => parseFirmwareOption('efi'))).toBe(2);
    expect(usageCode(() => parseFirmwareOption(''))).toBe(2);
  });

  it('accel: auto by default, kvm/tcg, anything else is a usage error', () => {
    expect(parseAccelOption(undefined)).toBe('auto');
    expect(parseAccelOption('TCG')).toBe('tcg');
    expect(parseAccelOption('kvm')).toBe('kvm');
    expect(usageCode(() => parseAccelOption('hvf'))).toBe(2);
  });

  it('expect: default marker, invalid or empty regex is a usage error', () => {
    expect(parseExpectOption(undefined).source).toBe('NOVASPHERE-VERSION: ');
    expect(parseExpectOption('FIXTURE-DONE').test('x FIXTURE-DONE')).toBe(true);
    expect(usageCode(() => parseExpectOption('('))).toBe(2);
    expect(usageCode(() => parseExpectOption(''))).toBe(2);
  });

  it('timeout: default 300, accepts numbers and numeric strings, rejects the rest', () => {
    expect(parseTimeoutOption(undefined)).toBe(300);
    expect(parseTimeoutOption(30)).toBe(30);
    expect(parseTimeoutOption('2.5')).toBe(2.5);
    for (const bad of ['abc', '', '0', '-5', 'Infinity']) expect(usageCode(() => parseTimeoutOption(bad))).toBe(2);
    expect(usageCode(() => parseTimeoutOption(Number.NaN))).toBe(2);
  });
});

describe('resolveAccel', () => {
  it('tcg is always tcg; auto is tcg unless ISO_BUILD_KVM=1 (and /dev/kvm usable)', async () => {
    expect(await resolveAccel('tcg', { ISO_BUILD_KVM: '1' })).toBe('tcg');
    expect(await resolveAccel('auto', {})).toBe('tcg');
  });
});

describe('serial lines and the result line', () => {
  it('strips ANSI escapes and control characters', () => {
    expect(cleanSerialLine('\x1b[2J\x1b[01;01H\x1b[=3h\x1b[0mBdsDxe: loading\x00 ')).toBe('BdsDxe: loading');
  });

  it('formats one line per boot with firmware, accel, result, time, log and matched line', () => {
    const ok: BootResult = {
      firmware: 'uefi', accel: 'tcg', exit: 'matched', seconds: 15.04, logPath: '/l/u.log',
      matched: 'NOVASPHERE-VERSION: 1.2',
    };
    expect(formatBootResult(ok, 300)).toBe(
      'uefi/tcg  matched after 15.0 s  log /l/u.log  line: NOVASPHERE-VERSION: 1.2',
    );
    expect(formatBootResult({ ...ok, exit: 'timeout', matched: undefined, seconds: 5 }, 5)).toBe(
      'uefi/tcg  TIMEOUT: no match in 5 s  log /l/u.log',
    );
    expect(formatBootResult({ ...ok, exit: 'guest-exited', matched: undefined, seconds: 3 }, 5)).toContain(
      'GUEST EXITED without match after 3.0 s',
    );
  });
});
