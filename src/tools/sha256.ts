/**
 * A file's sha256 computed by another process, so it runs on the other core while Node does other work. openssl,
 * not coreutils' sha256sum: openssl uses the CPU's SHA extensions and hashes about three times as fast here.
 */
import { resolve } from 'node:path';
import { IsoBuildError } from '../errors.js';
import { run } from './process.js';
import type { ToolCall } from './xorriso.js';

export async function sha256OfFile(path: string, call: ToolCall = {}): Promise<string> {
  // -r: "<hex> *<file>", the coreutils format (the default "SHA2-256(file)= hex" differs between openssl versions).
  const { stdout } = await run('openssl', ['dgst', '-sha256', '-r', resolve(path)], { log: call.log, what: `sha256 of ${path} (openssl dgst)` });
  const hex = stdout.slice(0, 64);
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new IsoBuildError(`openssl dgst printed no sha256 for ${path}: ${stdout.slice(0, 200)}`);
  return hex;
}
