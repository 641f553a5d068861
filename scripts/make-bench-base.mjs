#!/usr/bin/env node
// A real-size base ISO for `npm run bench`, made from a fixture ISO: the fixture plus incompressible files under
// pool/ (as Ubuntu ISOs carry .debs), listed in its md5sum.txt, with the fixture's boot setup replayed by xorriso.
// With --rootfs-bytes, casper/filesystem.squashfs (a single-squashfs fixture's rootfs) gets that many more bytes under
// /usr/share/bench-data (half random, half text) and is made again with --comp (as a bigger real rootfs would be).
// Not part of the product. Needs root with --rootfs-bytes (unsquashfs of device nodes and owners).
//   node scripts/make-bench-base.mjs FIXTURE.iso OUT.iso [--pool-bytes N] [--pool-files N] [--rootfs-bytes N --comp C [--level N]]
import { execFileSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    'pool-bytes': { type: 'string', default: '1800000000' },
    'pool-files': { type: 'string', default: '36' },
    'rootfs-bytes': { type: 'string', default: '0' },
    comp: { type: 'string', default: 'zstd' },
    level: { type: 'string' },
  },
});
const [from, out] = positionals.map((p) => resolve(p));
if (!from || !out) {
  console.error('usage: make-bench-base.mjs FIXTURE.iso OUT.iso [--pool-bytes N] [--pool-files N]');
  process.exit(2);
}
const files = Number(values['pool-files']);
const rootfsBytes = Number(values['rootfs-bytes']);
const perFile = Math.floor(Number(values['pool-bytes']) / files);
const tmp = mkdtempSync(join(dirname(out), '.bench-base-'));
try {
  const pool = join(tmp, 'pool');
  const lines = [];
  const chunk = Buffer.alloc(4 << 20);
  for (let i = 0; i < files; i++) {
    // pool/main/<letter>/<name>/<name>_<i>_amd64.deb, spread over directories like an Ubuntu pool
    const name = `pkg${String(i).padStart(4, '0')}`;
    const rel = `pool/main/${String.fromCharCode(97 + (i % 26))}/${name}/${name}_${i}_amd64.deb`;
    mkdirSync(dirname(join(tmp, rel)), { recursive: true });
    const fd = openSync(join(tmp, rel), 'w');
    const md5 = createHash('md5');
    for (let done = 0; done < perFile; done += chunk.length) {
      const part = chunk.subarray(0, Math.min(chunk.length, perFile - done));
      randomFillSync(part);
      md5.update(part);
      writeSync(fd, part);
    }
    closeSync(fd);
    lines.push(`${md5.digest('hex')}  ./${rel}\n`);
  }
  const xorriso = (args) => execFileSync('xorriso', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const maps = files > 0 ? ['-map', pool, '/pool'] : [];
  xorriso(['-osirrox', 'on', '-indev', from, '-extract', '/md5sum.txt', join(tmp, 'md5sum.old')]);
  let md5sum = readFileSync(join(tmp, 'md5sum.old'), 'utf8');
  if (rootfsBytes > 0) {
    const sq = join(tmp, 'filesystem.squashfs');
    xorriso(['-osirrox', 'on', '-indev', from, '-extract', '/casper/filesystem.squashfs', join(tmp, 'old.squashfs')]);
    const rootfs = join(tmp, 'rootfs');
    execFileSync('unsquashfs', ['-q', '-d', rootfs, join(tmp, 'old.squashfs')], { stdio: 'ignore' });
    const data = join(rootfs, 'usr/share/bench-data');
    mkdirSync(data, { recursive: true });
    const text = Buffer.from(Array.from({ length: 4096 }, (_, i) => `line ${i} of a text file that compresses well\n`).join('').slice(0, chunk.length / 16));
    for (let i = 0, done = 0; done < rootfsBytes; i++) {
      const size = Math.min(8 << 20, rootfsBytes - done);
      const buf = i % 2 ? Buffer.alloc(size, text) : randomFillSync(Buffer.alloc(size));
      writeFileSync(join(data, `data-${i}.${i % 2 ? 'txt' : 'bin'}`), buf);
      done += size;
    }
    const level = values.level ? ['-Xcompression-level', values.level] : [];
    execFileSync('mksquashfs', [rootfs, sq, '-noappend', '-comp', values.comp, ...level, '-quiet', '-no-progress'], { stdio: 'ignore' });
    const md5 = createHash('md5').update(readFileSync(sq)).digest('hex');
    md5sum = md5sum.replace(/^[0-9a-f]{32}  \.\/casper\/filesystem\.squashfs$/m, `${md5}  ./casper/filesystem.squashfs`);
    maps.push('-map', sq, '/casper/filesystem.squashfs');
    rmSync(rootfs, { recursive: true, force: true });
  }
  writeFileSync(join(tmp, 'md5sum.txt'), md5sum + lines.join(''));
  rmSync(out, { force: true });
  // Modify mode with the boot setup replayed: El Torito, hybrid MBR/GPT and the EFI partition as in the fixture.
  xorriso(['-indev', from, '-outdev', out, '-boot_image', 'any', 'replay', ...maps, '-map', join(tmp, 'md5sum.txt'), '/md5sum.txt', '-commit']);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
