import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashFile, hashGrowingFile } from '../../src/file-hash.js';

const dir = mkdtempSync(join(tmpdir(), 'isob-growing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('hashGrowingFile', () => {
  it('hashes a file another writer appends to, whatever the timing, to the digest of the finished file', async () => {
    const file = join(dir, 'grow.bin');
    const writer = (async () => {
      await pause(30); // the file does not exist yet when the hashing starts
      for (let i = 0; i < 40; i++) {
        appendFileSync(file, randomBytes(1 + ((i * 7919) % 300_000)));
        if (i % 3 === 0) await pause(5);
      }
    })();
    const digest = await hashGrowingFile(file, 'sha256', writer);
    expect(digest).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
  });

  it('reports the writer\'s failure, also when it failed before making the file', async () => {
    const failed = Promise.reject(new Error('xorriso failed'));
    await expect(hashGrowingFile(join(dir, 'never.bin'), 'sha256', failed)).rejects.toThrow('xorriso failed');
    const half = join(dir, 'half.bin');
    const writer = (async () => {
      appendFileSync(half, 'part');
      await pause(20);
      throw new Error('disk full');
    })();
    await expect(hashGrowingFile(half, 'md5', writer)).rejects.toThrow('disk full');
  });
});

describe('hashFile', () => {
  it('gives openssl\'s digest for a file of several read chunks and an odd size, with progress up to 100%', async () => {
    const file = join(dir, 'chunks.bin');
    writeFileSync(file, randomBytes((8 << 20) * 2 + 12_345)); // two whole 8 MiB chunks and a short one
    const seen: number[] = [];
    const digest = await hashFile(file, 'sha256', (p) => seen.push(p));
    expect(digest).toBe(execFileSync('openssl', ['dgst', '-sha256', '-r', file], { encoding: 'utf8' }).slice(0, 64));
    expect(seen.length).toBe(3);
    expect(seen.at(-1)).toBe(100);
    expect(await hashFile(file, 'md5')).toBe(execFileSync('openssl', ['dgst', '-md5', '-r', file], { encoding: 'utf8' }).slice(0, 32));
  });

  it('hashes an empty file, and rejects for a missing one', async () => {
    const empty = join(dir, 'empty.bin');
    writeFileSync(empty, '');
    expect(await hashFile(empty, 'sha256')).toBe(createHash('sha256').digest('hex'));
    await expect(hashFile(join(dir, 'missing.bin'), 'sha256')).rejects.toThrow(/ENOENT/);
  });
});
