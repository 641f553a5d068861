/**
 * Layered casper bases (Ubuntu 22.04+ style): the `layer` strategy adds a new top layer and leaves the base layers
 * byte-identical; `repack` rewrites the layer the installer copies. Read back with xorriso and unsquashfs.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findmntUnder, fixtureIso, runCli, sh, sha256, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';
import { FIXTURE_OVERLAY, fixtureBase, writeProfile } from '../support/profile.js';

const BASE_LAYERS = ['casper/fixture-minimal.squashfs', 'casper/fixture-minimal.fixture-server.squashfs'];
const NEW_LAYER = 'casper/fixture-minimal.fixture-server.layered-test.squashfs';

function profile(dir: string, strategy: 'layer' | 'repack'): string {
  return writeProfile(dir, strategy, {
    name: 'layered-test',
    base: fixtureBase('layered'),
    rootfs: { compression: 'gzip', strategy },
    overlay: [FIXTURE_OVERLAY],
    chroot: { commands: ['rm /etc/fixture-layer'] },
  });
}

function extract(iso: string, dest: string): string {
  sh('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', dest]);
  sh('chmod', ['-R', 'u+w', dest]);
  return dest;
}

/** The installed system's size as the kernel shows it: the layers mounted under a read-only overlayfs, summed by find. */
function kernelInstalledSize(dir: string, layersTopFirst: string[]): number {
  const mounts: string[] = [];
  try {
    for (const [i, layer] of layersTopFirst.entries()) {
      const at = join(dir, `size-${i}`);
      mkdirSync(at, { recursive: true });
      sh('mount', ['-t', 'squashfs', '-o', 'ro,loop', layer, at]);
      mounts.push(at);
    }
    const merged = join(dir, 'size-merged');
    mkdirSync(merged, { recursive: true });
    sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${mounts.join(':')}`, merged]);
    mounts.push(merged);
    return sh('find', [merged, '!', '-type', 'd', '-printf', '%s\\n']).split('\n').filter(Boolean).reduce((sum, n) => sum + Number(n), 0);
  } finally {
    for (const at of mounts.reverse()) sh('umount', [at]);
  }
}

/** A layer's own content as the kernel shows it: the squashfs mounted alone, its non-directories summed (whiteouts are 0). */
function layerContentBytes(dir: string, layer: string): number {
  const at = join(dir, 'size-layer');
  mkdirSync(at, { recursive: true });
  sh('mount', ['-t', 'squashfs', '-o', 'ro,loop', layer, at]);
  try {
    return sh('find', [at, '!', '-type', 'd', '-printf', '%s\\n']).split('\n').filter(Boolean).reduce((sum, n) => sum + Number(n), 0);
  } finally {
    sh('umount', [at]);
  }
}

describe('layered casper base', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  let base: string;
  beforeAll(() => {
    dir = tempDir('layered');
    base = extract(fixtureIso('layered'), join(dir, 'base'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const build = (strategy: 'layer' | 'repack'): string => {
    const res = runCli(['v2.0.0', '--profile', profile(dir, strategy), '--output', join(dir, `out-${strategy}`), '--work', join(dir, `work-${strategy}`)], {
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    });
    expect(res.stderr).not.toMatch(/^(error|internal error)/m);
    expect(res.code).toBe(0);
    expect(findmntUnder(join(dir, `work-${strategy}`))).toEqual([]);
    return extract(join(dir, `out-${strategy}`, 'layered-test-v2.0.0.iso'), join(dir, `tree-${strategy}`));
  };

  it('layer: base layers untouched, changes in a new registered top layer', () => {
    const tree = build('layer');
    for (const layer of BASE_LAYERS) expect(sha256(join(tree, layer)), layer).toBe(sha256(join(base, layer)));
    const top = join(tree, NEW_LAYER);
    expect(sh('unsquashfs', ['-cat', top, 'opt/novasphere/VERSION'])).toBe('v2.0.0\n');
    // a deletion of a lower file is an overlayfs whiteout (character device 0/0) in the new layer
    expect(sh('unsquashfs', ['-lln', top, 'etc/fixture-layer'])).toMatch(/^c--------- 0\/0\s+0,\s*0 .*etc\/fixture-layer$/m);
    const sources = parse(readFileSync(join(tree, 'casper/install-sources.yaml'), 'utf8')) as { id: string; path: string; size: number; default?: boolean }[];
    const installed = sources.find((s) => s.default)!;
    expect(installed.path).toBe('fixture-minimal.fixture-server.layered-test.squashfs');
    // install-sources.yaml: the whole chain curtin copies; the layer's .size: its own content (livecd-rootfs, ubuntu-facts.md)
    expect(installed.size).toBe(kernelInstalledSize(dir, [top, ...[...BASE_LAYERS].reverse().map((l) => join(tree, l))]));
    expect(readFileSync(join(tree, 'casper/fixture-minimal.fixture-server.layered-test.size'), 'utf8')).toBe(`${layerContentBytes(dir, top)}\n`);
    expect(readFileSync(join(tree, 'casper/fixture-minimal.fixture-server.layered-test.manifest'), 'utf8')).toMatch(/^dpkg\t/m);
    expect(readFileSync(join(tree, 'boot/grub/grub.cfg'), 'utf8')).toContain('layerfs-path=fixture-minimal.fixture-server.layered-test.squashfs');
    expect(sh('md5sum', ['-c', '--quiet', 'md5sum.txt'], tree)).toBe('');
  });

  it('layer: a second build in another work directory is bit-identical (no random overlayfs xattrs)', () => {
    const again = runCli(['v2.0.0', '--profile', profile(dir, 'layer'), '--output', join(dir, 'out-layer-2'), '--work', join(dir, 'other/work-layer-2')], {
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    });
    expect(again.code).toBe(0);
    expect(sha256(join(dir, 'out-layer-2/layered-test-v2.0.0.iso'))).toBe(sha256(join(dir, 'out-layer/layered-test-v2.0.0.iso')));
  });

  it('repack: the installed layer is rewritten as an overlay upper layer, the layer below is untouched', () => {
    const tree = build('repack');
    expect(sha256(join(tree, BASE_LAYERS[0]!))).toBe(sha256(join(base, BASE_LAYERS[0]!)));
    expect(sh('unsquashfs', ['-cat', join(tree, BASE_LAYERS[1]!), 'opt/novasphere/VERSION'])).toBe('v2.0.0\n');
    expect(sh('ls', [join(tree, 'casper')])).not.toContain('layered-test.squashfs');
    const sources = parse(readFileSync(join(tree, 'casper/install-sources.yaml'), 'utf8')) as { path: string; size: number; default?: boolean }[];
    const installed = sources.find((s) => s.default)!;
    expect(installed.path).toBe('fixture-minimal.fixture-server.squashfs');
    expect(installed.size).toBe(kernelInstalledSize(dir, [...BASE_LAYERS].reverse().map((l) => join(tree, l))));
    const size = readFileSync(join(tree, 'casper/fixture-minimal.fixture-server.size'), 'utf8');
    expect(size).toBe(`${layerContentBytes(dir, join(tree, BASE_LAYERS[1]!))}\n`);
    expect(sh('md5sum', ['-c', '--quiet', 'md5sum.txt'], tree)).toBe('');
  });

  it('layer on a single-squashfs base is refused', () => {
    const file = writeProfile(dir, 'bad', { name: 'bad', base: fixtureBase('single'), rootfs: { strategy: 'layer' } });
    const res = runCli(['v1.0.0', '--profile', file, '--output', join(dir, 'o'), '--work', join(dir, 'w')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^error: rootfs.strategy "layer" needs a layered casper base ISO; this one is casper/m);
  });
});
