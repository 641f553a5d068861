/** Shared by the image tests: a tree with every kind of entry, and listings/hashes from squashfs-tools and from us. */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, linkSync, mkdirSync, openSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { withSource } from '../../src/image/source.js';
import { SquashFs } from '../../src/image/squashfs.js';
import { runCli } from '../support/cli.js';

export const TZ = { TZ: 'UTC' };

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
export const PSEUDO = ['-p', 'dev-null c 666 0 0 1 3', '-p', 'dev-sda1 b 660 0 6 8 1', '-p', 'dev-major c 600 0 0 300 200', '-p', 'owned.txt m 640 1234 5678', '-p', 'dir m 750 1000 1000'];

export const VARIANTS: Record<string, string[]> = {
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

