/**
 * Fuzz: random mutations of the fixture's squashfs and ISO (seeded, bounded in count and time). Every outcome must be
 * success or an IsoBuildError; anything else (TypeError, RangeError, a hang) is a bug in the readers.
 * Reproduce a failure with ISO_BUILD_FUZZ_SEED=<seed printed in the failure>.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isIsoBuildError } from '../../src/errors.js';
import { bootSummary } from '../../src/image/boot.js';
import { IsoImage } from '../../src/image/iso9660.js';
import { detectIsoLayout, openLayer } from '../../src/image/rootfs.js';
import { bufferSource } from '../../src/image/source.js';
import { SquashFs } from '../../src/image/squashfs.js';
import { fixtureIso, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireTools } from '../support/needs.js';
import { seededRandom } from '../support/random.js';
import { mksquashfs } from '../support/squashfs.js';
import { PSEUDO, makeTree } from './image-helpers.js';

const SEED = Number(process.env.ISO_BUILD_FUZZ_SEED ?? 20261123);
const HANG_MS = 10_000;

interface Mutation {
  undo(): void;
  what: string;
}

/** Flips bytes or writes extreme 16/32/64-bit values at random places in [from, to). */
function mutate(buf: Buffer, rand: () => number, from: number, to: number): Mutation {
  const saved: [number, number][] = [];
  const set = (pos: number, v: number): void => {
    if (pos < 0 || pos >= buf.length) return;
    saved.push([pos, buf[pos]!]);
    buf[pos] = v;
  };
  const edits: string[] = [];
  const n = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) {
    const pos = from + Math.floor(rand() * (to - from));
    const kind = Math.floor(rand() * 4);
    if (kind === 0) {
      set(pos, Math.floor(rand() * 256));
    } else if (kind === 1) {
      set(pos, buf[pos]! ^ (1 << Math.floor(rand() * 8)));
    } else {
      const width = kind === 2 ? 4 : 8;
      const extreme = [0x00, 0xff, 0x7f, 0x80][Math.floor(rand() * 4)]!;
      for (let k = 0; k < width; k++) set(pos + k, k === width - 1 || rand() < 0.5 ? extreme : buf[pos + k]!);
    }
    edits.push(`${kind}@${pos}`);
  }
  return {
    what: edits.join(','),
    undo: () => {
      for (let i = saved.length - 1; i >= 0; i--) buf[saved[i]![0]] = saved[i]![1];
    },
  };
}

/** Runs `op` on mutated copies until the time or count budget is spent; returns the number of runs. */
async function fuzz(name: string, buf: Buffer, region: () => [number, number], op: (b: Buffer, len: number) => Promise<void>, budgetMs: number, maxRuns: number): Promise<number> {
  const rand = seededRandom(SEED);
  const end = Date.now() + budgetMs;
  let runs = 0;
  while (Date.now() < end && runs < maxRuns) {
    const [from, to] = region();
    const m = mutate(buf, rand, from, to);
    // Now and then also cut the image short.
    const len = rand() < 0.1 ? Math.floor(rand() * buf.length) : buf.length;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        op(buf, len),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`hang: no result in ${HANG_MS} ms`)), HANG_MS);
        }),
      ]);
    } catch (err) {
      if (!isIsoBuildError(err)) {
        throw new Error(`${name} run ${runs} (seed ${SEED}, edits ${m.what}, length ${len}): ${err instanceof Error ? err.stack : String(err)}`);
      }
      expect(err.message).toMatch(/\S/);
    } finally {
      clearTimeout(timer);
      m.undo();
    }
    runs++;
  }
  return runs;
}

async function exerciseSquashfs(fs: SquashFs): Promise<void> {
  let entries = 0;
  let files = 0;
  for await (const { inode } of fs.walk(await fs.root())) {
    if (++entries > 6000) break;
    if (inode.type === 'file' && files < 25 && inode.size < 256 << 10) {
      files++;
      for await (const _ of fs.read(inode)) void _;
    }
  }
  await fs.lookup('/etc/os-release', { follow: true });
}

describe('fuzzing the readers (bounded)', needs(requireFixtures()), () => {
  it('mutated squashfs: only IsoBuildErrors, no hang', async () => {
    const iso = await IsoImage.open(bufferSource(readFileSync(fixtureIso('single')), 'fixture.iso'));
    const image = Buffer.from(await iso.readAll((await iso.lookup('/casper/filesystem.squashfs'))!, 64 << 20));
    const inodeTable = Number(image.readBigUInt64LE(64));
    const rand = seededRandom(SEED + 1);
    // Mostly the superblock and the tables (where structure lives), sometimes anywhere (data blocks).
    const region = (): [number, number] => {
      const r = rand();
      return r < 0.2 ? [0, 96] : r < 0.85 ? [inodeTable, image.length] : [0, image.length];
    };
    const runs = await fuzz('squashfs', image, region, async (b, len) => exerciseSquashfs(await SquashFs.open(bufferSource(b.subarray(0, len), 'fuzz.sqfs'))), 12_000, 2000);
    expect(runs).toBeGreaterThan(20);
  }, 60_000);

  it('mutated ISO: only IsoBuildErrors, no hang', async () => {
    const image = readFileSync(fixtureIso('layered'));
    const clean = await IsoImage.open(bufferSource(image, 'clean.iso'));
    // The structure of an xorriso ISO lives in the first sectors: system area, descriptors, path tables, directories.
    let dirEnd = 0;
    for await (const { entry } of clean.walk()) if (entry.isDir) dirEnd = Math.max(dirEnd, entry.extents[0]!.offset + entry.extents[0]!.length);
    const top = (await clean.lookup('/casper/fixture-minimal.fixture-server.squashfs'))!.extents[0]!;
    const rand = seededRandom(SEED + 2);
    const region = (): [number, number] => (rand() < 0.85 ? [0, dirEnd] : [top.offset, top.offset + top.length]);
    const runs = await fuzz(
      'iso',
      image,
      region,
      async (b, len) => {
        const iso = await IsoImage.open(bufferSource(b.subarray(0, len), 'fuzz.iso'));
        for await (const _ of iso.walk()) void _;
        await bootSummary(iso);
        const layout = await detectIsoLayout(iso);
        const topLayer = await openLayer(iso, layout.stack[0]!);
        await exerciseSquashfs(topLayer);
      },
      8_000,
      400,
    );
    expect(runs).toBeGreaterThan(20);
  }, 60_000);
});

describe('fuzzing the gzip, zstd and lz4 decoders through the squashfs reader (bounded)', needs(requireTools('mksquashfs')), () => {
  it('mutated gzip/zstd/lz4 images: only IsoBuildErrors, no hang', async () => {
    const dir = tempDir('fuzzcodec');
    try {
      makeTree(join(dir, 'tree'));
      let seed = 3;
      for (const comp of ['gzip', 'zstd', 'lz4']) {
        const file = join(dir, `${comp}.sqfs`);
        mksquashfs(join(dir, 'tree'), file, ['-comp', comp, '-b', '16K', ...PSEUDO]);
        const image = readFileSync(file);
        const rand = seededRandom(SEED + seed++);
        // Data blocks and fragments hold most of these small images: mutate anywhere.
        const region = (): [number, number] => (rand() < 0.3 ? [Number(image.readBigUInt64LE(64)), image.length] : [96, image.length]);
        const runs = await fuzz(comp, image, region, async (b, len) => exerciseSquashfs(await SquashFs.open(bufferSource(b.subarray(0, len), `fuzz-${comp}.sqfs`))), 2_000, 1000);
        expect(runs).toBeGreaterThan(20);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
