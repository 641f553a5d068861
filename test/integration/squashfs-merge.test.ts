/**
 * The squashfs merge (a build's repack: its changes merged into the cached layer's image, compressed blocks reused)
 * against squashfs-tools, squashfs-tools-ng and Linux. Real overlayfs upper dirs with every kind of change are packed
 * with mksquashfs and merged into the base image; the result must hold the same tree as mksquashfs of the mounted
 * overlay (sqfsdiff: contents, owners, modes, times; unsquashfs -lln; getfattr on kernel mounts of both), and a layer
 * must keep its whiteouts and opaque directories so the stack below it reads the same.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeSquashfs } from '../../src/image/squashfs-merge.js';
import { tempDir } from '../support/cli.js';
import { needs, requireRoot, requireTools } from '../support/needs.js';
import { mksquashfs } from '../support/squashfs.js';
import { makeTree, unsquashfsListing } from './image-helpers.js';

const MTIME = 1700000000;
const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });

/** mksquashfs with fixed times: sqfsdiff then compares the merge with mksquashfs's reference including mtimes. */
function pack(src: string, image: string, comp: string[], time = 0): void {
  mksquashfs(src, image, ['-processors', '2', ...comp, '-all-time', String(time), '-mkfs-time', String(time)]);
}

/** Mounts `lowers` (top first) + `upper` as overlayfs the way the build does, runs `fn` on the view, unmounts. */
function throughOverlay(dir: string, lowers: string[], upper: string, fn: (view: string) => void): void {
  const view = join(dir, 'view');
  const work = join(dir, 'ovl-work');
  for (const d of [view, work, upper]) mkdirSync(d, { recursive: true });
  sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work},uuid=off,redirect_dir=off,metacopy=off`, view]);
  try {
    fn(view);
  } finally {
    sh('umount', [view]);
    rmSync(work, { recursive: true, force: true });
  }
}

/** Every kind of change overlayfs records in an upper dir. */
function change(v: string): void {
  writeFileSync(join(v, 'new-file'), 'new\n');
  mkdirSync(join(v, 'new-dir/nested'), { recursive: true });
  writeFileSync(join(v, 'new-dir/nested/file'), randomBytes(200_000)); // blocks and a fragment of the changes image
  appendFileSync(join(v, 'small.txt'), 'appended\n'); // copy-up of one link of a hard-linked pair
  rmSync(join(v, 'owned.txt')); // whiteout
  rmSync(join(v, 'dir/sub/deep'), { recursive: true }); // whiteout of a directory
  rmSync(join(v, 'frag'), { recursive: true }); // recreated: an opaque directory
  mkdirSync(join(v, 'frag'));
  writeFileSync(join(v, 'frag/only-new'), 'only this\n');
  chmodSync(join(v, 'sticky'), 0o700); // copy-up of a directory's metadata
  chownSync(join(v, 'big.bin'), 4321, 8765);
  rmSync(join(v, 'exact.bin'));
  mkdirSync(join(v, 'exact.bin')); // a file replaced by a directory
  writeFileSync(join(v, 'exact.bin/inside'), 'x');
  rmSync(join(v, 'dir/sub'), { recursive: true });
  writeFileSync(join(v, 'dir/sub'), 'a directory replaced by a file\n');
  linkSync(join(v, 'new-file'), join(v, 'new-hardlink'));
  symlinkSync('/opt/target', join(v, 'new-link'));
  execFileSync('mkfifo', [join(v, 'new-fifo')]);
  execFileSync('truncate', ['-s', '1M', join(v, 'new-sparse')]);
  appendFileSync(join(v, 'new-sparse'), 'tail\n');
  renameSync(join(v, 'many/e0100'), join(v, 'renamed'));
  execFileSync('mv', [join(v, 'many-dir'), join(v, 'many-dir-renamed')]); // redirect_dir=off: EXDEV, so mv copies
  execFileSync('setfattr', ['-n', 'user.note', '-v', 'changed', join(v, 'new-file')]);
  execFileSync('setcap', ['cap_net_raw+ep', join(v, 'setuid.sh')]);
  for (let i = 0; i < 40; i++) rmSync(join(v, `many/e${String(i * 7).padStart(4, '0')}`));
}

/** The base: every kind of entry, a directory big enough for a multi-block listing, xattrs, device nodes. */
function makeBase(root: string): void {
  makeTree(root);
  mkdirSync(join(root, 'many'));
  for (let i = 0; i < 700; i++) writeFileSync(join(root, `many/e${String(i).padStart(4, '0')}`), `entry ${i}\n`);
  mkdirSync(join(root, 'many-dir/a'), { recursive: true });
  writeFileSync(join(root, 'many-dir/a/f'), 'moved with its directory\n');
  execFileSync('setfattr', ['-n', 'user.origin', '-v', 'base', join(root, 'small.txt')]);
  execFileSync('mknod', [join(root, 'null'), 'c', '1', '3']);
  chownSync(join(root, 'owned.txt'), 1234, 5678);
}

/** What a reader sees, minus what legitimately differs: directory listing sizes (header layout) and the mount point. */
function tree(image: string, dir: string): { listing: string[]; xattrs: string } {
  const listing = unsquashfsListing(image).map((l) => (l.startsWith('d') ? l.replace(/^(\S+ \S+)\s+\d+/, '$1 <dir>') : l));
  const mnt = join(dir, `mnt-${image.split('/').pop()}`);
  mkdirSync(mnt, { recursive: true });
  sh('mount', ['-t', 'squashfs', '-o', 'ro,loop', image, mnt]);
  try {
    const xattrs = sh('getfattr', ['-h', '-R', '-d', '-m', '-', '-e', 'hex', '--absolute-names', mnt]).replaceAll(mnt, '');
    return { listing, xattrs };
  } finally {
    sh('umount', [mnt]);
  }
}

/** sqfsdiff differences other than basic-vs-extended inode kinds (a directory index is a layout choice). */
function sqfsdiff(a: string, b: string): string[] {
  let out: string;
  try {
    out = sh('sqfsdiff', ['-T', '-a', a, '-b', b]);
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? err);
  }
  return out.split('\n').filter((l) => l && !/ has an? (basic|extended) type$/.test(l));
}

describe('squashfs merge vs mksquashfs of the overlay', needs(requireRoot('overlayfs and loop mounts, chown, mknod, setcap'), requireTools('mksquashfs', 'unsquashfs', 'sqfsdiff', 'setfattr', 'getfattr', 'setcap')), () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('merge');
    makeBase(join(dir, 'base'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [name, comp] of Object.entries({ zstd: ['-comp', 'zstd'], 'xz-4k-blocks': ['-comp', 'xz', '-b', '4K'], gzip: ['-comp', 'gzip'] })) {
    it(`${name}: a whole filesystem equals the mounted overlay packed by mksquashfs, and Linux mounts it`, async () => {
      const d = join(dir, name);
      const upper = join(d, 'upper');
      throughOverlay(d, [join(dir, 'base')], upper, change);
      pack(join(dir, 'base'), join(d, 'base.sqfs'), comp);
      pack(upper, join(d, 'changes.sqfs'), comp);
      const out = join(d, 'merged.sqfs');
      const result = await mergeSquashfs({ base: join(d, 'base.sqfs'), changes: [join(d, 'changes.sqfs')], out, keepWhiteouts: false, mtime: MTIME });
      expect(result.reusedBytes).toBeGreaterThan(300_000);

      let reference = '';
      throughOverlay(d, [join(dir, 'base')], upper, (view) => {
        reference = join(d, 'reference.sqfs');
        pack(view, reference, comp, MTIME);
      });
      expect(sqfsdiff(reference, out)).toEqual([]);
      const ours = tree(out, d);
      const theirs = tree(reference, d);
      expect(ours.listing).toEqual(theirs.listing);
      expect(ours.xattrs).toEqual(theirs.xattrs);
      expect(ours.xattrs).toContain('security.capability');
      expect(ours.xattrs).toContain('user.note');
      expect(ours.xattrs).not.toContain('trusted.overlay');
      expect(ours.listing.join('\n')).not.toMatch(/ \/owned\.txt$/m);
      // Same inputs, same bytes.
      await mergeSquashfs({ base: join(d, 'base.sqfs'), changes: [join(d, 'changes.sqfs')], out: `${out}.again`, keepWhiteouts: false, mtime: MTIME });
      expect(readFileSync(`${out}.again`).equals(readFileSync(out))).toBe(true);
    });
  }

  it('a layer keeps whiteouts and opaque directories: the stack below reads the same as with both upper dirs', async () => {
    const d = join(dir, 'layer');
    const comp = ['-comp', 'zstd'];
    const layer1 = join(d, 'layer1');
    throughOverlay(d, [join(dir, 'base')], layer1, (v) => {
      rmSync(join(v, 'many'), { recursive: true });
      mkdirSync(join(v, 'many'));
      writeFileSync(join(v, 'many/first-layer'), '1\n');
      rmSync(join(v, 'link-rel'));
      writeFileSync(join(v, 'from-layer1'), '1\n');
    });
    const layer2 = join(d, 'layer2');
    throughOverlay(d, [layer1, join(dir, 'base')], layer2, (v) => {
      writeFileSync(join(v, 'many/second-layer'), '2\n');
      rmSync(join(v, 'from-layer1'));
      rmSync(join(v, 'frag'), { recursive: true });
      writeFileSync(join(v, 'new-file'), 'new\n');
    });
    pack(layer1, join(d, 'layer1.sqfs'), comp);
    pack(layer2, join(d, 'layer2.sqfs'), comp);
    const merged = join(d, 'merged.sqfs');
    await mergeSquashfs({ base: join(d, 'layer1.sqfs'), changes: [join(d, 'layer2.sqfs')], out: merged, keepWhiteouts: true, mtime: MTIME });

    // The base with the merged layer mounted on top, against the base with both upper dirs on top.
    const viaMerged = join(d, 'via-merged.sqfs');
    const viaBoth = join(d, 'via-both.sqfs');
    const mnt = join(d, 'merged-mnt');
    mkdirSync(mnt, { recursive: true });
    sh('mount', ['-t', 'squashfs', '-o', 'ro,loop', merged, mnt]);
    try {
      throughOverlay(d, [mnt, join(dir, 'base')], join(d, 'scratch1'), (v) => pack(v, viaMerged, comp, MTIME));
    } finally {
      sh('umount', [mnt]);
    }
    throughOverlay(d, [layer2, layer1, join(dir, 'base')], join(d, 'scratch2'), (v) => pack(v, viaBoth, comp, MTIME));
    expect(sqfsdiff(viaBoth, viaMerged)).toEqual([]);
    const listing = unsquashfsListing(viaMerged).join('\n');
    expect(listing).toMatch(/ \/many\/second-layer$/m);
    expect(listing).not.toMatch(/ \/many\/e0001$/m); // hidden by layer1's opaque directory
    expect(listing).not.toMatch(/ \/from-layer1$|\/link-rel$|\/frag$/m);

    // Both layers merged straight into the base (a single-squashfs rebuild reusing the base's blocks): the same tree.
    pack(join(dir, 'base'), join(d, 'base.sqfs'), comp);
    const whole = join(d, 'whole.sqfs');
    const result = await mergeSquashfs({ base: join(d, 'base.sqfs'), changes: [join(d, 'layer1.sqfs'), join(d, 'layer2.sqfs')], out: whole, keepWhiteouts: false, mtime: MTIME });
    expect(sqfsdiff(viaBoth, whole)).toEqual([]);
    expect(result.reusedBytes).toBeGreaterThan(300_000);
  });

  it('refuses a changes image with an overlayfs redirect (a renamed directory it cannot merge)', async () => {
    const d = join(dir, 'redirect');
    mkdirSync(join(d, 'upper/moved'), { recursive: true });
    execFileSync('setfattr', ['-n', 'trusted.overlay.redirect', '-v', '/many-dir', join(d, 'upper/moved')]);
    pack(join(dir, 'base'), join(d, 'base.sqfs'), ['-comp', 'gzip']);
    pack(join(d, 'upper'), join(d, 'changes.sqfs'), ['-comp', 'gzip']);
    await expect(mergeSquashfs({ base: join(d, 'base.sqfs'), changes: [join(d, 'changes.sqfs')], out: join(d, 'out.sqfs'), keepWhiteouts: false, mtime: MTIME })).rejects.toThrow(
      /\/moved carries trusted\.overlay\.redirect/,
    );
  });
});
