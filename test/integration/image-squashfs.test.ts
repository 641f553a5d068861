/**
 * The in-process squashfs reader against squashfs-tools on a tree with every kind of entry: listing (`inspect --ls`)
 * equals `unsquashfs -lln` line for line, and every regular file's sha256 equals `unsquashfs -cat` / `rdsquashfs -c`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSource } from '../../src/image/source.js';
import { SquashFs } from '../../src/image/squashfs.js';
import { runCli, tempDir } from '../support/cli.js';
import { needs, requireTools } from '../support/needs.js';
import { mksquashfs } from '../support/squashfs.js';
import { PSEUDO, VARIANTS, inProcessHashes, inspectListing, makeTree, unsquashfsListing } from './image-helpers.js';

describe('squashfs reader vs squashfs-tools', needs(requireTools('mksquashfs', 'unsquashfs', 'rdsquashfs', 'gensquashfs')), () => {
  let dir: string;
  const images = new Map<string, string>();
  beforeAll(() => {
    dir = tempDir('sqfs');
    makeTree(join(dir, 'tree'));
    for (const [name, args] of Object.entries(VARIANTS)) {
      const image = join(dir, `${name}.sqfs`);
      mksquashfs(join(dir, 'tree'), image, ['-processors', '1', ...args, ...PSEUDO]);
      images.set(name, image);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const name of Object.keys(VARIANTS)) {
    it(`${name}: inspect --ls equals unsquashfs -lln; every file's sha256 equals unsquashfs -cat`, async () => {
      const image = images.get(name)!;
      const theirs = unsquashfsListing(image);
      expect(theirs.length).toBeGreaterThan(80);
      expect(inspectListing(image)).toEqual(theirs);

      const ours = await inProcessHashes(image);
      const files = theirs.filter((l) => l.startsWith('-')).map((l) => l.slice(l.indexOf(' /') + 1));
      expect([...ours.keys()].sort()).toEqual([...files].sort());
      for (const path of files) {
        const ref = createHash('sha256').update(execFileSync('unsquashfs', ['-cat', image, path.slice(1)], { maxBuffer: 64 << 20 })).digest('hex');
        expect(ours.get(path), path).toBe(ref);
      }
      // squashfs-tools-ng reads the same bytes (a second, independent implementation).
      for (const path of ['/big.bin', '/sparse.bin', '/frag/f059']) {
        const ng = createHash('sha256').update(execFileSync('rdsquashfs', ['-c', path, image], { maxBuffer: 64 << 20 })).digest('hex');
        expect(ours.get(path), path).toBe(ng);
      }
    });
  }

  for (const comp of ['gzip', 'xz', 'zstd', 'lz4']) {
    it(`${comp} image written by squashfs-tools-ng (gensquashfs): same listing and bytes`, async () => {
      const image = join(dir, `ng-${comp}.sqfs`);
      execFileSync('gensquashfs', ['-q', '-c', comp, '-D', join(dir, 'tree'), '-f', image], { stdio: 'ignore' });
      // unsquashfs 4.5 rejects gensquashfs lz4 images ("failed to read id table block"); rdsquashfs and we read them,
      // and the same tree through gensquashfs with gzip gives the reference listing.
      const reference = comp === 'lz4' ? inspectListing(join(dir, 'ng-gzip.sqfs')) : unsquashfsListing(image);
      expect(inspectListing(image)).toEqual(reference);
      const ours = await inProcessHashes(image);
      for (const path of ['/big.bin', '/sparse.bin', '/exact.bin', '/frag/f059', '/empty']) {
        const ng = createHash('sha256').update(execFileSync('rdsquashfs', ['-c', path, image], { maxBuffer: 64 << 20 })).digest('hex');
        expect(ours.get(path), path).toBe(ng);
      }
    });
  }

  it('reads a squashfs that starts past 4 GiB inside a larger (sparse) file', async () => {
    const image = images.get('zstd')!;
    const big = join(dir, 'big-sparse.img');
    const offset = 5 * 1024 ** 3 + 4096;
    execFileSync('truncate', ['-s', String(offset), big]);
    execFileSync('sh', ['-c', `cat '${image}' >> '${big}'`]);
    const expected = await inProcessHashes(image);
    await withSource(big, async (src) => {
      const fs = await SquashFs.open(src.slice(offset, src.size - offset, 'inner'));
      const small = await fs.lookup('/big.bin');
      const h = createHash('sha256');
      for await (const c of fs.read(small!)) h.update(c);
      expect(h.digest('hex')).toBe(expected.get('/big.bin'));
    });
    rmSync(big);
  });

  it('decodes wide device numbers like the kernel and rdsquashfs (unsquashfs 4.5 -lln prints them in the old 8:8 form)', async () => {
    const image = join(dir, 'wide.sqfs');
    mkdirSync(join(dir, 'empty'), { recursive: true });
    mksquashfs(join(dir, 'empty'), image, ['-p', 'dev-wide c 600 0 0 300 70000']);
    expect(execFileSync('rdsquashfs', ['-s', '/dev-wide', image], { encoding: 'utf8' })).toMatch(/Device number: 300:70000/);
    const lines = inspectListing(image);
    expect(lines[1]).toMatch(/^crw------- 0\/0 +300,70000 .* \/dev-wide$/);
  });

  it('refuses lzo with a clear error', () => {
    const image = join(dir, 'lzo.sqfs');
    mksquashfs(join(dir, 'tree'), image, ['-comp', 'lzo']);
    const res = runCli(['inspect', image, '--ls', '/']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^error: .*squashfs compressed with lzo cannot be read in-process\nhint: supported: gzip, xz, lz4, zstd/);
  });
});
