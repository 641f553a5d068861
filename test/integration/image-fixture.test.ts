/**
 * Acceptance on the fixture: its rootfs as xz (the fixture ISO itself) and repacked with gzip, zstd and lz4 (bare and
 * inside an ISO): `inspect --ls` equals `unsquashfs -lln`, and every regular file read in-process has the sha256 of the
 * file unsquashfs extracts.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IsoImage } from '../../src/image/iso9660.js';
import { withSource } from '../../src/image/source.js';
import { SquashFs } from '../../src/image/squashfs.js';
import { fixtureIso, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';
import { mksquashfs } from '../support/squashfs.js';
import { inProcessHashes, inspectListing, unsquashfsListing } from './image-helpers.js';

describe('fixture rootfs read in-process', needs(requireRoot('unsquashfs extracts device nodes and owners'), requireFixtures()), () => {
  let dir: string;
  let xzImage: string;
  const reference = new Map<string, string>();
  beforeAll(() => {
    dir = tempDir('imgfix');
    xzImage = join(dir, 'xz.sqfs');
    execFileSync('xorriso', ['-osirrox', 'on', '-indev', fixtureIso('single'), '-extract', '/casper/filesystem.squashfs', xzImage], { stdio: 'ignore' });
    execFileSync('unsquashfs', ['-quiet', '-no-progress', '-d', join(dir, 'root'), xzImage], { stdio: 'ignore' });
    // Reference hashes: the files unsquashfs extracted (regular files only, as listed by unsquashfs itself).
    for (const line of unsquashfsListing(xzImage)) {
      if (!line.startsWith('-')) continue;
      const path = line.slice(line.indexOf(' /') + 1);
      reference.set(path, createHash('sha256').update(readFileSync(join(dir, 'root', path))).digest('hex'));
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('xz: the fixture ISO listing equals unsquashfs -lln of its squashfs, and the file hashes match', async () => {
    expect(inspectListing(fixtureIso('single'))).toEqual(unsquashfsListing(xzImage));
    const ours = await withSource(fixtureIso('single'), async (src) => {
      const iso = await IsoImage.open(src);
      const f = (await iso.lookup('/casper/filesystem.squashfs'))!;
      const fs = await SquashFs.open(iso.slice(f, 'rootfs'));
      let n = 0;
      for await (const { path, inode } of fs.walk(await fs.root())) {
        if (inode.type !== 'file') continue;
        const h = createHash('sha256');
        for await (const c of fs.read(inode)) h.update(c);
        expect(h.digest('hex'), path).toBe(reference.get(path));
        n++;
      }
      return n;
    });
    expect(ours).toBe(reference.size);
  });

  for (const comp of ['gzip', 'zstd', 'lz4'] as const) {
    it(`${comp}: the repacked rootfs lists and reads the same, bare and inside an ISO`, async () => {
      const image = join(dir, `${comp}.sqfs`);
      mksquashfs(join(dir, 'root'), image, ['-comp', comp, ...(comp === 'lz4' ? [] : ['-Xcompression-level', '1'])]);
      const theirs = unsquashfsListing(image);
      expect(inspectListing(image)).toEqual(theirs);
      const ours = await inProcessHashes(image);
      expect(ours).toEqual(reference);
      if (comp === 'zstd') {
        // Inside an ISO the squashfs is read at its extent, nothing extracted.
        mkdirSync(join(dir, 'isotree/casper'), { recursive: true });
        execFileSync('cp', [image, join(dir, 'isotree/casper/filesystem.squashfs')]);
        const iso = join(dir, 'zstd.iso');
        execFileSync('xorriso', ['-as', 'mkisofs', '-r', '-J', '-o', iso, join(dir, 'isotree')], { stdio: 'ignore' });
        expect(inspectListing(iso)).toEqual(theirs);
      }
      rmSync(image, { force: true });
    });
  }
});
