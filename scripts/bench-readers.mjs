#!/usr/bin/env node
// npm run bench:readers (also run by npm run bench) — the in-process squashfs reader (iso-build inspect) against squashfs-tools and squashfs-tools-ng
// on a squashfs of at least 100 MB: the fixture rootfs plus generated files. Wall clock, best of BENCH_ROUNDS, every
// side a fresh process (Node start-up counted). Needs the fixtures (scripts/make-fixture-iso) and a built dist/.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WORK = process.env.BENCH_READERS_DIR ?? '/tmp/isobuild-bench-readers';
const CLI = join(REPO, 'bin/iso-build.js');
const CHILD = join(REPO, 'scripts/bench-reader-child.mjs');
const MIN_BYTES = 100 * 1024 * 1024;

/** Deterministic, poorly compressible bytes (so the image is really >= 100 MB), cheap to make. */
function pseudoRandom(seed, size) {
  const out = Buffer.alloc(size);
  let h = createHash('sha256').update(String(seed)).digest();
  for (let pos = 0; pos < size; pos += 32) {
    h.copy(out, pos, 0, Math.min(32, size - pos));
    h = createHash('sha256').update(h).digest();
  }
  return out;
}

function makeImage(comp) {
  const image = join(WORK, `bench2-${comp}.sqfs`);
  if (existsSync(image) && statSync(image).size >= MIN_BYTES) return image;
  const root = join(WORK, 'root2');
  if (!existsSync(join(root, 'srv/bench/large-2.bin'))) {
    rmSync(root, { recursive: true, force: true });
    const fixture = join(WORK, 'fixture.sqfs');
    execFileSync('xorriso', ['-osirrox', 'on', '-indev', join(REPO, 'fixtures/out/fixture-single.iso'), '-extract', '/casper/filesystem.squashfs', fixture], { stdio: 'ignore' });
    execFileSync('unsquashfs', ['-quiet', '-no-progress', '-d', root, fixture], { stdio: 'ignore' });
    // Shaped like a real rootfs of that size: ~40k inodes. 36k small files in 600 directories (listing work,
    // fragments) and a few large files (reading work), all poorly compressible.
    for (let d = 0; d < 600; d++) {
      const dir = join(root, 'usr/share/bench', `pkg-${d}`);
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < 60; f++) writeFileSync(join(dir, `file-${f}.dat`), pseudoRandom(`${d}/${f}`, 512 + ((d * 60 + f) % 17) * 256));
    }
    mkdirSync(join(root, 'srv/bench'), { recursive: true });
    for (let i = 0; i < 3; i++) writeFileSync(join(root, 'srv/bench', `large-${i}.bin`), pseudoRandom(`large${i}`, 12 * 1024 * 1024));
  }
  execFileSync('mksquashfs', [root, image, '-noappend', '-quiet', '-no-progress', '-comp', comp], { stdio: 'ignore' });
  return image;
}

/** Best wall-clock seconds of a command with stdout discarded. */
function time(cmd, args) {
  let best = Infinity;
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.hrtime.bigint();
    const res = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${res.stderr}`);
    best = Math.min(best, s);
  }
  return best;
}

if (!existsSync(join(REPO, 'fixtures/out/fixture-single.iso'))) {
  console.error('bench-readers: run scripts/make-fixture-iso first');
  process.exit(2);
}
if (!existsSync(join(REPO, 'dist/bundle/cli.js'))) execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'inherit' });
mkdirSync(WORK, { recursive: true });

const rows = [];
let ok = true;
const nodeStart = time('node', ['-e', '0']);
for (const comp of (process.env.BENCH_COMPRESSORS ?? 'xz,zstd').split(',')) {
  const image = makeImage(comp);
  const mb = (statSync(image).size / 1048576).toFixed(0);
  const inodes = /Number of inodes (\d+)/.exec(execFileSync('unsquashfs', ['-s', image], { encoding: 'utf8' }))?.[1];
  const big = '/srv/bench/large-0.bin';
  const listUnsq = time('unsquashfs', ['-lln', image]);
  const listNg = time('rdsquashfs', ['-d', image]);
  const listOurs = time('node', [CLI, 'inspect', image, '--ls', '/']);
  const listReader = time('node', [CHILD, 'ls', image]);
  const catUnsq = time('unsquashfs', ['-cat', image, big.slice(1)]);
  const catNg = time('rdsquashfs', ['-c', big, image]);
  const catOurs = time('node', [CLI, 'inspect', image, '--cat', big]);
  const allNg = time('sqfs2tar', [image]);
  const allOurs = time('node', [CHILD, 'read', image]);
  const ratio = listReader / listUnsq;
  ok &&= ratio <= 3;
  rows.push(
    `| ${comp} ${mb} MB, ${inodes} inodes | list all | unsquashfs -lln ${listUnsq.toFixed(3)} s | rdsquashfs -d ${listNg.toFixed(3)} s | reader ${listReader.toFixed(3)} s | ${ratio.toFixed(2)}x unsquashfs |`,
    `| | list all, whole CLI | | | iso-build inspect --ls / ${listOurs.toFixed(3)} s | ${(listOurs / listUnsq).toFixed(2)}x (node start-up, commander, the inspect verb) |`,
    `| | read 12 MiB file | unsquashfs -cat ${catUnsq.toFixed(3)} s | rdsquashfs -c ${catNg.toFixed(3)} s | inspect --cat ${catOurs.toFixed(3)} s | ${(catOurs / catUnsq).toFixed(2)}x |`,
    `| | read every file | | sqfs2tar ${allNg.toFixed(3)} s | in-process ${allOurs.toFixed(3)} s | ${(allOurs / allNg).toFixed(2)}x sqfs2tar |`,
  );
}
console.log(`best of ${ROUNDS} wall-clock runs, each a fresh process; node start-up alone (node -e 0): ${nodeStart.toFixed(3)} s; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} cores`);
console.log('| image | what | squashfs-tools | squashfs-tools-ng | iso-build (in-process) | ratio |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
console.log(`in-process listing (reader in a fresh node) within 3x of unsquashfs -lln: ${ok ? 'yes' : 'NO'}`);
process.exitCode = ok ? 0 : 1;
