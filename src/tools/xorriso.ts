/** xorriso: extract an ISO tree without mounting, read its boot setup, write a new ISO over the base replaying it. */
import { join, resolve } from 'node:path';
import { ExitCode, IsoBuildError } from '../errors.js';
import { run } from './process.js';
import { splitShellWords } from './shell-words.js';
import type { BuildLog } from '../build-log.js';
import type { IsoTreeChanges } from '../iso-tree-changes.js';

export interface ToolCall {
  log?: BuildLog;
  onProgress?: (percent: number, line: string) => void;
}

/**
 * Extract the ISO 9660/Rock Ridge tree into `dest` (with `only`: just those top-level names) and make it writable
 * (xorriso keeps the read-only modes).
 */
export async function extractIsoTree(iso: string, dest: string, call: ToolCall & { only?: readonly string[] } = {}): Promise<void> {
  const what = call.only ? call.only.flatMap((name) => ['-extract', `/${name}`, join(resolve(dest), name)]) : ['-extract', '/', resolve(dest)];
  await run('xorriso', ['-osirrox', 'on', '-indev', resolve(iso), ...what], {
    log: call.log,
    what: `xorriso extract of ${iso}`,
  });
  await run('chmod', ['-R', 'u+w', resolve(dest)], { log: call.log, what: 'chmod of the extracted ISO tree' });
}

/**
 * The mkisofs options that recreate the ISO's boot setup (El Torito entries, hybrid MBR/GPT, appended partitions).
 * They read boot images from `iso` by absolute path, so the base must stay readable until the rebuild ends.
 */
export async function reportBootSetup(iso: string, call: ToolCall = {}): Promise<string[]> {
  const { stdout } = await run('xorriso', ['-indev', resolve(iso), '-report_el_torito', 'as_mkisofs'], {
    log: call.log,
    what: `xorriso boot report of ${iso}`,
  });
  return splitShellWords(stdout);
}

export interface BootImage {
  platform: 'BIOS' | 'UEFI' | string;
  path?: string;
}

/** Boot images listed by `-report_el_torito plain` (the El Torito catalog as xorriso reads it). */
export async function listBootImages(iso: string, call: ToolCall = {}): Promise<BootImage[]> {
  const { stdout } = await run('xorriso', ['-indev', resolve(iso), '-report_el_torito', 'plain'], {
    log: call.log,
    what: `xorriso El Torito report of ${iso}`,
  });
  return parseBootImages(stdout);
}

export function parseBootImages(report: string): BootImage[] {
  const images = new Map<string, BootImage>();
  for (const line of report.split('\n')) {
    // "El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4     ..."
    const img = /^El Torito boot img\s*:\s*(\d+)\s+(\S+)/.exec(line);
    if (img) images.set(img[1]!, { platform: img[2]! });
    // "El Torito img path :   1  /boot/grub/i386-pc/eltorito.img"
    const path = /^El Torito img path\s*:\s*(\d+)\s+(\S.*)$/.exec(line);
    if (path && images.has(path[1]!)) images.get(path[1]!)!.path = path[2]!.trim();
  }
  return [...images.values()];
}

export interface ModifyOptions extends ToolCall {
  /** The base ISO: every byte the build does not change is read from it. */
  base: string;
  output: string;
  /** From reportBootSetup() of the base ISO: only its --modification-date is read (the boot setup itself is replayed). */
  bootSetup: string[];
  volumeId: string;
  /** xorriso date form YYYYMMDDhhmmsscc, used for every file so the image does not depend on the build clock. */
  fileDate: string;
  /** This build's edits of the ISO tree (iso-tree-changes.ts). */
  changes: IsoTreeChanges;
}

/**
 * The new ISO in xorriso's modify mode: the base loaded (-indev), this build's edits applied as -rm_r and -map, the
 * base's boot setup replayed, the result written to another file (-outdev). Unchanged files are copied from the base
 * ISO as they are, so the tree need not be extracted for xorriso, and the write runs at about the speed of copying
 * the base (a rebuild from an extracted tree, `-as mkisofs DIR`, was 3-4x slower on a 2 GB base).
 * The settings match what the earlier `-as mkisofs -r -J -joliet-long --set_all_file_dates` rebuild produced.
 */
export function modifyArgs(opts: ModifyOptions, outdev = resolve(opts.output)): string[] {
  // GRUB may search the medium by this UUID (the volume's modification date): the base's is kept.
  const uuid = opts.bootSetup.find((a) => a.startsWith('--modification-date='))?.slice('--modification-date='.length) ?? opts.fileDate;
  return [
    // Paths are taken as they are: with patterns on (the default), `-rm_r /a*` removes every name starting with a.
    '-iso_rr_pattern', 'off', '-disk_pattern', 'off',
    '-indev', resolve(opts.base),
    '-outdev', outdev,
    '-boot_image', 'any', 'replay',
    '-volid', opts.volumeId,
    '-joliet', 'on', '-compliance', 'joliet_long_names', // Rock Ridge is on by default
    ...opts.changes.removed.flatMap((p) => ['-rm_r', `/${p}`, '--']),
    ...opts.changes.mapped.flatMap((m) => ['-map', resolve(m.disk), `/${m.iso}`]),
    // mkisofs -r's rules for every file: owner 0, read for all, no write bits, x for all where any x.
    '-find', '/', '-exec', 'mkisofs_r', '--',
    '-volume_date', 'all_file_dates', opts.fileDate,
    '-volume_date', 'uuid', uuid,
    // GPT GUIDs are random by default; derived from the modification date, rebuilds are bit-identical.
    '-boot_image', 'any', 'gpt_disk_guid=modification-date',
    '-commit',
  ];
}

/** Path inside the tree of the boot catalog the replay writes (xorriso makes it; the md5sum.txt of the base lists none). */
export function bootCatalogPath(bootSetup: string[]): string | undefined {
  const i = bootSetup.indexOf('-c');
  return i >= 0 ? bootSetup[i + 1] : undefined;
}

/**
 * xorriso writes the image to its stdout, a pipe, and cat appends it to the output file. Through a pipe xorriso
 * cannot seek: the image is one session from block 0 written strictly in order, so the file can be hashed while it
 * grows (rebuild-iso.ts). Given a regular file instead, libburn goes back at the end to rewrite the first 64 KiB
 * (seen: a copy read while it was written differs there), and given it as -outdev, modify mode treats it as
 * overwritable media, puts the session at block 32 behind a multi-session emulation header, and on a 2 GB base took
 * 7 s against 2 s through stdout (measured in one run on this machine). Piping through tee and openssl for the hash
 * was slower still (5-6 s: tee's small buffers).
 */
const WRITE_TO_FILE = 'set -o pipefail; out="$1"; shift; xorriso "$@" | cat > "$out"';

export async function modifyIso(opts: ModifyOptions): Promise<void> {
  const args = modifyArgs(opts, 'stdio:/dev/fd/1');
  await run('bash', ['-c', WRITE_TO_FILE, 'xorriso-write', resolve(opts.output), ...args], {
    log: opts.log,
    what: 'xorriso ISO write (modify mode over the base)',
    onLine: (line) => {
      const m = /UPDATE\s*:\s*([\d.]+)% done/.exec(line);
      if (m) opts.onProgress?.(Number(m[1]), line);
    },
  });
}

/** First bytes of an ISO 9660 image: the primary volume descriptor's "CD001" at sector 16. */
export function assertIso9660(header: Buffer, file: string): void {
  if (header.length < 32774 || header.subarray(32769, 32774).toString('latin1') !== 'CD001') {
    throw new IsoBuildError(`${file} is not an ISO 9660 image (no CD001 volume descriptor at sector 16)`, {
      hint: 'point --base (or base.path in the profile) at a live-server .iso file',
      exitCode: ExitCode.Usage,
    });
  }
}

/** xorriso's date format for an epoch: YYYYMMDDhhmmss00 (UTC). */
export function xorrisoDate(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}00`;
}
