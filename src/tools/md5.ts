/** md5s computed by other processes, so they run on the other core while Node does other work. */
import { resolve } from 'node:path';
import { IsoBuildError } from '../errors.js';
import { run } from './process.js';
import type { ToolCall } from './xorriso.js';

const SCRIPT = 'set -o pipefail; dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=1M status=none | openssl dgst -md5 -r';

/** md5 of a byte range of a file (dd | openssl). */
export async function md5OfRange(path: string, offset: number, length: number, call: ToolCall = {}): Promise<string> {
  const { stdout } = await run('bash', ['-c', SCRIPT, 'md5-range', resolve(path), String(offset), String(length)], {
    log: call.log,
    what: `md5 of ${length} bytes at ${offset} in ${path} (dd | openssl dgst)`,
  });
  const hex = stdout.slice(0, 32);
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new IsoBuildError(`openssl dgst printed no md5 for ${path}: ${stdout.slice(0, 200)}`);
  return hex;
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
