/**
 * The in-process squashfs reader against squashfs-tools on a tree with every kind of entry: listing (`inspect --ls`)
 * equals `unsquashfs -lln` line for line, and every regular file's sha256 equals `unsquashfs -cat` / `rdsquashfs -c`.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, linkSync, mkdirSync, openSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSource } from '../../src/image/source.js';
import { SquashFs } from '../../src/image/squashfs.js';
import { runCli, tempDir } from '../support/cli.js';

const TZ = { TZ: 'UTC' };

/** Directory tree with symlinks, sparse, multi-block, fragment-sized, empty, long-named, unicode, setuid and fifo entries. */
export function makeTree(root: string): void {
  mkdirSync(join(root, 'dir/sub/deep'), { recursive: true });
  mkdirSync(join(root, 'frag'));
  mkdirSync(join(root, 'sticky'));
  chmodSync(join(root, 'sticky'), 0o1777);
  writeFileSync(join(root, 'small.txt'), 'hello\n');
  writeFileSync(join(root, 'empty'), '');
  writeFileSync(join(root, 'owned.txt'), 'owned by 1234:5678\n');
  writeFileSync(join(root, 'big.bin'), randomBytes(300_000)); // 2 blocks + a tail in a fragment
  writeFileSync(join(root, 'exact.bin'), randomBytes(131_072)); // exactly one block, no fragment
  writeFileSync(join(root, 'dir/sub/deep/file'), 'deep\n');
  writeFileSync(join(root, `${'n'.repeat(250)}.txt`), 'long name\n');
  writeFileSync(join(root, 'café-ü.txt'), 'unicode\n');
  writeFileSync(join(root, 'setuid.sh'), '#!/bin/sh\n');
  chmodSync(join(root, 'setuid.sh'), 0o4755);
  for (let i = 0; i < 60; i++) writeFileSync(join(root, `frag/f${String(i).padStart(3, '0')}`), `fragment file ${i}\n`.repeat(i + 1));
  const fd = openSync(join(root, 'sparse.bin'), 'w'); // three zero blocks, then data: stored as sparse blocks
  writeSync(fd, Buffer.from('data after a hole\n'), 0, 18, 3 * 131_072 + 5);
  closeSync(fd);
  symlinkSync('small.txt', join(root, 'link-rel'));
  symlinkSync('/etc/passwd', join(root, 'link-abs'));
  symlinkSync('../../small.txt', join(root, 'dir/sub/up'));
  symlinkSync('nowhere', join(root, 'dangling'));
  linkSync(join(root, 'small.txt'), join(root, 'hardlink.txt'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
}

/** Device nodes and owners through mksquashfs pseudo definitions, so no root is needed. */
const PSEUDO = ['-p', 'dev-null c 666 0 0 1 3', '-p', 'dev-sda1 b 660 0 6 8 1', '-p', 'dev-major c 600 0 0 300 200', '-p', 'owned.txt m 640 1234 5678', '-p', 'dir m 750 1000 1000'];

const VARIANTS: Record<string, string[]> = {
  gzip: ['-comp', 'gzip'],
  xz: ['-comp', 'xz'],
  zstd: ['-comp', 'zstd'],
  lz4: ['-comp', 'lz4'],
  'lz4-hc': ['-comp', 'lz4', '-Xhc'],
  'gzip-uncompressed': ['-comp', 'gzip', '-noI', '-noD', '-noF', '-noX'],
  'xz-4k-blocks': ['-comp', 'xz', '-b', '4K'],
  'zstd-no-fragments': ['-comp', 'zstd', '-no-fragments'],
  'lz4-always-fragments': ['-comp', 'lz4', '-always-use-fragments'],
};

export function unsquashfsListing(image: string): string[] {
  const out = execFileSync('unsquashfs', ['-lln', image], { encoding: 'utf8', env: { ...process.env, ...TZ }, maxBuffer: 256 << 20 });
  return out
    .split('\n')
    .filter((l) => l.includes('squashfs-root'))
    .map((l) => l.replace(/ squashfs-root(\/|$)/, (_m, slash: string) => (slash ? ' /' : ' /')));
}

export function inspectListing(image: string, extra: string[] = []): string[] {
  const res = runCli(['inspect', image, '--ls', '/', ...extra], { env: TZ });
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  return res.stdout.split('\n').filter(Boolean);
}

/** sha256 of every regular file, read in-process. */
export async function inProcessHashes(image: string): Promise<Map<string, string>> {
  return withSource(image, async (src) => {
    const fs = await SquashFs.open(src);
    const out = new Map<string, string>();
    for await (const { path, inode } of fs.walk(await fs.root())) {
      if (inode.type !== 'file') continue;
      const h = createHash('sha256');
      for await (const chunk of fs.read(inode)) h.update(chunk);
      out.set(path, h.digest('hex'));
    }
    return out;
  });
}

describe('squashfs reader vs squashfs-tools', () => {
  let dir: string;
  const images = new Map<string, string>();
  beforeAll(() => {
    dir = tempDir('sqfs');
    makeTree(join(dir, 'tree'));
    for (const [name, args] of Object.entries(VARIANTS)) {
      const image = join(dir, `${name}.sqfs`);
      execFileSync('mksquashfs', [join(dir, 'tree'), image, '-noappend', '-quiet', '-no-progress', '-processors', '1', ...args, ...PSEUDO], { stdio: 'ignore' });
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
    execFileSync('mksquashfs', [join(dir, 'empty'), image, '-noappend', '-quiet', '-no-progress', '-p', 'dev-wide c 600 0 0 300 70000'], { stdio: 'ignore' });
    expect(execFileSync('rdsquashfs', ['-s', '/dev-wide', image], { encoding: 'utf8' })).toMatch(/Device number: 300:70000/);
    const lines = inspectListing(image);
    expect(lines[1]).toMatch(/^crw------- 0\/0 +300,70000 .* \/dev-wide$/);
  });

  it('refuses lzo with a clear error', () => {
    const image = join(dir, 'lzo.sqfs');
    execFileSync('mksquashfs', [join(dir, 'tree'), image, '-noappend', '-quiet', '-no-progress', '-comp', 'lzo'], { stdio: 'ignore' });
    const res = runCli(['inspect', image, '--ls', '/']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^error: .*squashfs compressed with lzo cannot be read in-process\nhint: supported: gzip, xz, lz4, zstd/);
  });
});
