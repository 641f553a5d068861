/**
 * Digests computed by other processes, so they run on the other core while Node does other work. openssl rather than
 * coreutils' sha256sum for sha256: it uses the CPU's SHA extensions and hashes about three times as fast here.
 */
import { resolve } from 'node:path';
import { IsoBuildError } from '../errors.js';
import { run } from './process.js';
import type { ToolCall } from './xorriso.js';

/** The leading hex digest of a tool's "<hex> *<name>" output line. */
function leadingHex(stdout: string, digits: number, what: string): string {
  const hex = stdout.slice(0, digits);
  if (!new RegExp(`^[0-9a-f]{${digits}}$`).test(hex)) throw new IsoBuildError(`${what} printed no digest: ${stdout.slice(0, 200)}`);
  return hex;
}

export async function sha256OfFile(path: string, call: ToolCall = {}): Promise<string> {
  // -r: "<hex> *<file>", the coreutils format (the default "SHA2-256(file)= hex" differs between openssl versions).
  const what = `sha256 of ${path} (openssl dgst)`;
  const { stdout } = await run('openssl', ['dgst', '-sha256', '-r', resolve(path)], { log: call.log, what });
  return leadingHex(stdout, 64, what);
}

const RANGE_SCRIPT = 'set -o pipefail; dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=1M status=none | openssl dgst -md5 -r';

/** md5 of a byte range of a file (dd | openssl). */
export async function md5OfRange(path: string, offset: number, length: number, call: ToolCall = {}): Promise<string> {
  const what = `md5 of ${length} bytes at ${offset} in ${path} (dd | openssl dgst)`;
  const { stdout } = await run('bash', ['-c', RANGE_SCRIPT, 'md5-range', resolve(path), String(offset), String(length)], { log: call.log, what });
  return leadingHex(stdout, 32, what);
}

/** md5 of each of `files` (relative to `dir`) by md5sum(1), as a map from the relative path. */
export async function md5sumFiles(dir: string, files: string[], call: ToolCall = {}): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (files.length === 0) return out;
  // -z: NUL-terminated lines and names as they are (no escaping of odd characters)
  const { stdout } = await run('xargs', ['-0', 'md5sum', '-z', '--'], { cwd: dir, input: files.join('\0'), log: call.log, what: `md5sum of ${files.length} files in ${dir}` });
  for (const line of stdout.split('\0')) {
    const m = /^([0-9a-f]{32}) [ *](.*)$/s.exec(line);
    if (m) out.set(m[2]!, m[1]!);
  }
  return out;
}
