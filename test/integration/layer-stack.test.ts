/**
 * The in-process view of a squashfs layer stack (LayerStack: inspect, verify, the installed size) follows overlayfs:
 * upper names win, whiteouts hide, an opaque directory hides the lower directory's entries. Checked against the
 * kernel's overlayfs mount of the same images, summed by find.
 */
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImages, type OpenedImages } from '../../src/image/open-images.js';
import { LayerStack, layerBytes } from '../../src/image/rootfs.js';
import { sh, tempDir } from '../support/cli.js';
import { needs, requireRoot, requireTools } from '../support/needs.js';
import { mksquashfs } from '../support/squashfs.js';

describe('LayerStack (overlayfs rules over squashfs images)', needs(requireRoot('mknod, trusted.* xattrs, loop and overlayfs mounts'), requireTools('mksquashfs', 'setfattr')), () => {
  let dir: string;
  let images: OpenedImages;
  beforeAll(async () => {
    dir = tempDir('layerstack');
    const lower = join(dir, 'lower');
    const upper = join(dir, 'upper');
    for (const d of ['d', 'e']) mkdirSync(join(lower, d), { recursive: true });
    writeFileSync(join(lower, 'd/a'), '0123456789');
    writeFileSync(join(lower, 'd/b'), 'x'.repeat(20));
    writeFileSync(join(lower, 'e/x'), 'xxxxx');
    writeFileSync(join(lower, 'f'), 'fff');
    symlinkSync('f', join(lower, 'link'));
    for (const d of ['d', 'e']) mkdirSync(join(upper, d), { recursive: true });
    sh('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(upper, 'd')]);
    writeFileSync(join(upper, 'd/c'), 'ccccccc');
    sh('mknod', [join(upper, 'e/x'), 'c', '0', '0']);
    writeFileSync(join(upper, 'e/y'), 'yyyy');
    sh('mknod', [join(upper, 'f'), 'c', '0', '0']);
    writeFileSync(join(upper, 'g'), 'gg');
    for (const layer of ['lower', 'upper']) mksquashfs(join(dir, layer), join(dir, `${layer}.squashfs`));
    images = await openImages([join(dir, 'upper.squashfs'), join(dir, 'lower.squashfs')]);
  });
  afterAll(async () => {
    await images?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('walks the merged tree: whiteouts and opaque directories hide what is below', async () => {
    const paths: string[] = [];
    for await (const e of new LayerStack(images.layers).walk('/')) paths.push(e.path);
    expect(paths).toEqual(['/', '/d', '/d/c', '/e', '/e/y', '/g', '/link']);
  });

  it('sums the file sizes the kernel overlay mount shows', async () => {
    const size = await new LayerStack(images.layers).fileBytes();
    expect(size).toBe(7 + 4 + 2 + 1); // d/c, e/y, g, the symlink's target length
    // the same from the upper layer alone over the lower's size index (what a build does for a new layer)
    expect(await layerBytes(images.layers[0]!, await new LayerStack([images.layers[1]!]).sizeIndex())).toBe(size);
    const mounts: string[] = [];
    try {
      for (const layer of ['upper', 'lower']) {
        mkdirSync(join(dir, `mnt-${layer}`));
        sh('mount', ['-t', 'squashfs', '-o', 'ro,loop', join(dir, `${layer}.squashfs`), join(dir, `mnt-${layer}`)]);
        mounts.push(join(dir, `mnt-${layer}`));
      }
      mkdirSync(join(dir, 'merged'));
      sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${mounts.join(':')}`, join(dir, 'merged')]);
      mounts.push(join(dir, 'merged'));
      const sizes = sh('find', [join(dir, 'merged'), '!', '-type', 'd', '-printf', '%s\\n']).split('\n').filter(Boolean);
      expect(sizes.reduce((sum, n) => sum + Number(n), 0)).toBe(size);
    } finally {
      for (const m of mounts.reverse()) sh('umount', [m]);
    }
  });
});
