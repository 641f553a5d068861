/** sha256sum(1): a file's sha256 computed by another process, so it runs on another core while Node does other work. */
import { resolve } from 'node:path';
import { IsoBuildError } from '../errors.js';
import { run } from './process.js';
import type { ToolCall } from './xorriso.js';

export async function sha256sum(path: string, call: ToolCall = {}): Promise<string> {
  const { stdout } = await run('sha256sum', ['--', resolve(path)], { log: call.log, what: `sha256sum ${path}` });
  const hex = stdout.slice(0, 64);
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new IsoBuildError(`sha256sum printed no hash for ${path}: ${stdout.slice(0, 200)}`);
  return hex;
}
