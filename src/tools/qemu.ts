/**
 * Headless QEMU boot test: boot an ISO with BIOS (SeaBIOS) or UEFI (OVMF), capture the guest's serial console to a
 * file and wait for a line matching a marker. Used by `iso-build boot` and the release pipeline.
 */
import { constants, type Stats } from 'node:fs';
import { access, copyFile, mkdir, mkdtemp, open, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExitCode, IsoBuildError, usageError } from '../errors.js';
import { interruptSignal } from '../lifecycle.js';
import { interruptedError, run } from './process.js';

export type Firmware = 'bios' | 'uefi';
export type Accel = 'auto' | 'kvm' | 'tcg';

/** Boot a kernel and initrd directly (qemu -kernel/-initrd/-append), e.g. read from an installed disk. */
export interface DirectKernel {
  kernel: string;
  initrd?: string;
  append: string;
}

export interface BootOptions {
  /** The medium (a CD-ROM, or a read-only virtio disk with media 'disk'); none for a disk-only boot. */
  iso?: string;
  firmware: Firmware;
  /** Tested against every serial line (ANSI escapes and control characters removed). None: wait for power-off. */
  expect?: RegExp;
  /** Keep running after the match until the guest powers off (or the timeout), e.g. to let an installer finish. */
  waitPoweroff?: boolean;
  /** Writable raw disk images, attached as virtio disks in this order (the first is /dev/vda). */
  disks?: string[];
  /** Boot this kernel instead of the firmware's boot order. */
  directKernel?: DirectKernel;
  timeoutSec: number;
  /** The serial console is written here (truncated first). */
  logPath: string;
  /** Default 'auto': TCG, unless ISO_BUILD_KVM=1 says KVM really works on this host. */
  accel?: Accel;
  memoryMiB?: number;
  cpus?: number;
  media?: 'cdrom' | 'disk';
  /** Appended last, so they can override the defaults (QEMU keeps the last -cpu, -m, ...). */
  extraArgs?: string[];
  /** Every serial line, as it arrives. */
  onLine?: (line: string) => void;
}

export interface BootResult {
  firmware: Firmware;
  accel: 'kvm' | 'tcg';
  /** The first serial line matching `expect`. */
  matched?: string;
  logPath: string;
  /** Seconds from QEMU's start to the match (or to the timeout / the guest's exit). */
  seconds: number;
  /** Seconds from QEMU's start to the guest's power-off, when it powered off while we waited. */
  poweroffSeconds?: number;
  /** matched: the pattern appeared (and, with waitPoweroff, the guest powered off); powered-off: no pattern was
   * asked for and the guest powered off; timeout; guest-exited: it powered off without the pattern. */
  exit: 'matched' | 'powered-off' | 'timeout' | 'guest-exited';
  /** Anything the reader should know, e.g. that KVM was abandoned for TCG. */
  note?: string;
}

export const QEMU_BINARY = 'qemu-system-x86_64';
export const DEFAULT_MEMORY_MIB = 2048;
export const DEFAULT_CPUS = 2;
/** A KVM boot that writes nothing to the serial console in this time is taken as a broken KVM (nested hosts). */
const KVM_SILENCE_MS = 20_000;
const POLL_MS = 200;

/** CODE and VARS must come from the same build (4M CODE needs 4M VARS). First existing pair wins. */
export const OVMF_CANDIDATES: readonly { code: string; vars: string }[] = [
  { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd' }, // Debian 12, Ubuntu 22.04+
  { code: '/usr/share/OVMF/OVMF_CODE.fd', vars: '/usr/share/OVMF/OVMF_VARS.fd' },
  { code: '/usr/share/edk2/ovmf/OVMF_CODE.fd', vars: '/usr/share/edk2/ovmf/OVMF_VARS.fd' }, // Fedora
  { code: '/usr/share/edk2/x64/OVMF_CODE.4m.fd', vars: '/usr/share/edk2/x64/OVMF_VARS.4m.fd' }, // Arch
];

export type QemuArgsOptions = BootOptions & { accel: 'kvm' | 'tcg'; varsPath?: string; ovmfCode?: string };

/** The QEMU command line (without the binary). Pure: no file system access. */
export function qemuArgs(opts: QemuArgsOptions): string[] {
  const args = [
    '-machine', `q35,accel=${opts.accel}`,
    // `max` under TCG emulates every feature a modern kernel may require. Under KVM, the host CPU minus
    // arch-capabilities: nested hypervisors refuse that MSR and QEMU aborts (seen here: "failed to set MSR 0x10a").
    '-cpu', opts.accel === 'kvm' ? 'host,-arch-capabilities' : 'max',
    '-m', String(opts.memoryMiB ?? DEFAULT_MEMORY_MIB),
    '-smp', String(opts.cpus ?? DEFAULT_CPUS),
    '-display', 'none',
    '-monitor', 'none',
    // A guest that reboots ends the test instead of looping through the installer again.
    '-no-reboot',
    // No network: the product is an offline installer, and no PXE ROM delays the boot.
    '-nic', 'none',
    // The legacy `file:` syntax takes the rest of the string as the path, commas included: no escaping here.
    '-serial', `file:${opts.logPath}`,
  ];
  // Writable disks first: the installer's target is the first virtual disk (/dev/vda).
  for (const disk of opts.disks ?? []) args.push('-drive', `file=${qemuOptValue(disk)},if=virtio,format=raw`);
  if (opts.iso !== undefined) {
    if ((opts.media ?? 'cdrom') === 'cdrom') {
      args.push('-drive', `file=${qemuOptValue(opts.iso)},media=cdrom,readonly=on,format=raw`);
      if (!opts.directKernel) args.push('-boot', 'd');
    } else {
      args.push('-drive', `file=${qemuOptValue(opts.iso)},if=virtio,readonly=on,format=raw`);
    }
  }
  if (opts.directKernel) {
    args.push('-kernel', opts.directKernel.kernel, '-append', opts.directKernel.append);
    if (opts.directKernel.initrd) args.push('-initrd', opts.directKernel.initrd);
  }
  if (opts.firmware === 'uefi') {
    if (!opts.varsPath) throw new Error('qemuArgs: UEFI needs varsPath (a writable copy of OVMF_VARS)');
    const code = opts.ovmfCode ?? OVMF_CANDIDATES[0]!.code;
    args.push(
      '-drive', `if=pflash,format=raw,readonly=on,file=${qemuOptValue(code)}`,
      '-drive', `if=pflash,format=raw,file=${qemuOptValue(opts.varsPath)}`,
    );
  }
  args.push(...(opts.extraArgs ?? []));
  return args;
}

/** In QEMU's key=value,... option syntax a comma in a value is written as two. */
function qemuOptValue(value: string): string {
  return value.replaceAll(',', ',,');
}

export async function bootIso(opts: BootOptions): Promise<BootResult> {
  const qemu = await findQemu();
  if (opts.iso !== undefined) await checkIso(opts.iso);
  const ovmf = opts.firmware === 'uefi' ? await findOvmf() : undefined;
  const requested = opts.accel ?? 'auto';
  const accel = await resolveAccel(requested);
  if (accel === 'kvm' && requested === 'auto') {
    // 'auto' promises a boot, not KVM: a KVM that crashes QEMU or runs a silent guest costs one retry with TCG.
    let why: string;
    try {
      const first = await bootOnce(qemu, opts, 'kvm', ovmf, KVM_SILENCE_MS);
      if (first !== 'silent') return first;
      why = `KVM showed no serial output in ${KVM_SILENCE_MS / 1000} s`;
    } catch (err) {
      if (interruptSignal().aborted || !(err instanceof IsoBuildError)) throw err;
      why = `KVM failed (${err.message})`;
    }
    const retried = await bootOnce(qemu, opts, 'tcg', ovmf);
    if (retried === 'silent') throw new Error('unreachable: TCG boots have no silence limit');
    return { ...retried, note: `${why}, fell back to TCG` };
  }
  const result = await bootOnce(qemu, opts, accel, ovmf);
  if (result === 'silent') throw new Error('unreachable: only auto KVM boots have a silence limit');
  return result;
}

/** Fails early (before any boot) when a tool a boot needs is missing. */
export async function checkBootTools(firmwares: readonly Firmware[]): Promise<void> {
  await findQemu();
  if (firmwares.includes('uefi')) await findOvmf();
}

export async function findQemu(): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, QEMU_BINARY);
    if (await canAccess(candidate, constants.X_OK)) return candidate;
  }
  throw new IsoBuildError(`${QEMU_BINARY} is not installed`, {
    hint: 'install QEMU: apt-get install qemu-system-x86',
    exitCode: ExitCode.Usage,
  });
}

export async function findOvmf(): Promise<{ code: string; vars: string }> {
  for (const pair of OVMF_CANDIDATES) {
    if ((await canAccess(pair.code, constants.R_OK)) && (await canAccess(pair.vars, constants.R_OK))) return pair;
  }
  throw new IsoBuildError('UEFI firmware (OVMF) is not installed', {
    hint: `install it: apt-get install ovmf (looked for ${OVMF_CANDIDATES[0]!.code})`,
    exitCode: ExitCode.Usage,
  });
}

/**
 * 'auto' picks KVM only when ISO_BUILD_KVM=1: a usable /dev/kvm proves nothing (on nested hosts a stock kernel hangs
 * in its decompressor under KVM), and the auto KVM boot still falls back to TCG if the guest stays silent.
 */
export async function resolveAccel(requested: Accel, env: NodeJS.ProcessEnv = process.env): Promise<'kvm' | 'tcg'> {
  if (requested === 'tcg') return 'tcg';
  const usable = await canAccess('/dev/kvm', constants.R_OK | constants.W_OK);
  if (requested === 'kvm') {
    if (!usable) throw usageError('KVM was requested but /dev/kvm is missing or not accessible', 'use --accel tcg');
    return 'kvm';
  }
  return usable && env.ISO_BUILD_KVM === '1' ? 'kvm' : 'tcg';
}

async function checkIso(iso: string): Promise<void> {
  let st: Stats;
  try {
    st = await stat(iso);
  } catch {
    throw usageError(`ISO not found: ${iso}`, 'give the path of an existing .iso file');
  }
  if (!st.isFile() && !st.isBlockDevice()) throw usageError(`not a file: ${iso}`, 'give the path of an .iso file');
}

async function bootOnce(
  qemu: string,
  opts: BootOptions,
  accel: 'kvm' | 'tcg',
  ovmf: { code: string; vars: string } | undefined,
  silenceLimitMs?: number,
): Promise<BootResult | 'silent'> {
  const interrupted = interruptSignal();
  if (interrupted.aborted) throw interruptedError(`${opts.firmware} boot`);
  // A `g` or `y` flag would make test() stateful (lastIndex) and skip matches.
  const expect = opts.expect ? new RegExp(opts.expect.source, opts.expect.flags.replace(/[gy]/g, '')) : undefined;
  const waitPoweroff = opts.waitPoweroff === true || expect === undefined;
  const tmp = await mkdtemp(join(tmpdir(), 'iso-build-qemu-'));
  const stop = new AbortController();
  let qemuDone: Promise<QemuOutcome> | undefined;
  let log: SerialLogReader | undefined;
  try {
    let varsPath: string | undefined;
    if (ovmf) {
      // OVMF writes its NVRAM: each boot gets a fresh copy, never the shared template.
      varsPath = join(tmp, 'OVMF_VARS.fd');
      await copyFile(ovmf.vars, varsPath);
    }
    await mkdir(dirname(opts.logPath), { recursive: true });
    await writeFile(opts.logPath, '');
    const args = qemuArgs({ ...opts, accel, varsPath, ovmfCode: ovmf?.code });
    const started = performance.now();
    const elapsed = (): number => (performance.now() - started) / 1000;
    // run() kills QEMU's process group when `stop` or the process-wide interrupt aborts, and always when it returns.
    qemuDone = run(qemu, args, { signal: stop.signal, what: `${QEMU_BINARY} (${opts.firmware}, ${accel})` }).then(
      () => ({ kind: 'exited' }),
      (err: unknown) => ({ kind: 'failed', err }),
    );
    log = await SerialLogReader.open(opts.logPath);

    let matched: string | undefined;
    let matchedAt = 0;
    let exit: BootResult['exit'] | 'silent' | undefined;
    let outcome: QemuOutcome | undefined;
    let poweroffSeconds: number | undefined;
    const consume = (lines: string[]): void => {
      for (const line of lines) {
        opts.onLine?.(line);
        if (matched === undefined && expect?.test(line)) {
          matched = line;
          matchedAt = elapsed();
        }
      }
    };
    while (exit === undefined) {
      outcome = await Promise.race([qemuDone, sleep(POLL_MS).then(() => undefined)]);
      consume(await log.readLines());
      if (interrupted.aborted) throw interruptedError(`${opts.firmware} boot`);
      if (outcome) {
        consume(log.flush()); // a marker printed right before power-off may have no newline
        poweroffSeconds = round1(elapsed());
        exit = matched !== undefined ? 'matched' : expect === undefined ? 'powered-off' : 'guest-exited';
      } else if (matched !== undefined && !waitPoweroff) {
        // The answer is known: return now instead of waiting for the guest to power itself off (issue 17).
        exit = 'matched';
      } else if (elapsed() > opts.timeoutSec) {
        exit = 'timeout';
      } else if (silenceLimitMs !== undefined && log.bytesRead === 0 && elapsed() * 1000 > silenceLimitMs) {
        exit = 'silent';
      }
    }
    const seconds = round1(matched !== undefined ? matchedAt : elapsed());
    if (!outcome) {
      stop.abort();
      outcome = await qemuDone;
      consume(await log.readLines());
      consume(log.flush());
      if (interrupted.aborted) throw interruptedError(`${opts.firmware} boot`);
    } else if (outcome.kind === 'failed') {
      // QEMU itself failed (bad option, unreadable image, ...): run()'s error names the command and its stderr.
      throw outcome.err;
    }
    if (exit === 'silent') return 'silent';
    return { firmware: opts.firmware, accel, matched, logPath: opts.logPath, seconds, exit, ...(poweroffSeconds !== undefined ? { poweroffSeconds } : {}) };
  } finally {
    stop.abort();
    await qemuDone; // never resolves before QEMU's process group is gone
    await log?.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

type QemuOutcome = { kind: 'exited' } | { kind: 'failed'; err: unknown };

/** Reads what QEMU appended to the serial log since the last call, as clean lines. */
class SerialLogReader {
  private position = 0;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');
  private readonly buffer = Buffer.alloc(64 * 1024);

  private constructor(private readonly handle: FileHandle) {}

  static async open(path: string): Promise<SerialLogReader> {
    return new SerialLogReader(await open(path, 'r'));
  }

  get bytesRead(): number {
    return this.position;
  }

  async readLines(): Promise<string[]> {
    let text = '';
    for (;;) {
      const { bytesRead } = await this.handle.read(this.buffer, 0, this.buffer.length, this.position);
      if (bytesRead === 0) break;
      this.position += bytesRead;
      text += this.decoder.write(this.buffer.subarray(0, bytesRead));
    }
    // Firmware and GRUB redraw with bare CRs: treat them as line ends too.
    const parts = (this.partial + text).split(/\r\n|\r|\n/);
    this.partial = parts.pop() ?? '';
    return parts.map(cleanSerialLine).filter((line) => line !== '');
  }

  /** The unterminated last line, once no more output will come. */
  flush(): string[] {
    const last = cleanSerialLine(this.partial + this.decoder.end());
    this.partial = '';
    return last ? [last] : [];
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Remove ANSI escape sequences (OVMF and GRUB draw menus with them) and other control characters. */
export function cleanSerialLine(raw: string): string {
  return raw
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
    .replace(/\x1b[()][0-9A-Za-z]|\x1b[@-_]/g, '')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
    .trimEnd();
}

async function canAccess(path: string, mode: number): Promise<boolean> {
  try {
    await access(path, mode);
    return true;
  } catch {
    return false;
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
