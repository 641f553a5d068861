import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashGrowingFile } from '../../src/file-hash.js';

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
