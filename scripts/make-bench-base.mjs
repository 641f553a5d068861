#!/usr/bin/env node
// A real-size base ISO for `npm run bench`, made from a fixture ISO: the fixture plus incompressible files under
// pool/ (as Ubuntu ISOs carry .debs), listed in its md5sum.txt, with the fixture's boot setup replayed by xorriso.
// Not part of the product.
//   node scripts/make-bench-base.mjs FIXTURE.iso OUT.iso --pool-bytes N --pool-files N
import { execFileSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { 'pool-bytes': { type: 'string', default: '1800000000' }, 'pool-files': { type: 'string', default: '36' } },
});
const [from, out] = positionals.map((p) => resolve(p));
if (!from || !out) {
  console.error('usage: make-bench-base.mjs FIXTURE.iso OUT.iso [--pool-bytes N] [--pool-files N]');
  process.exit(2);
}
const files = Number(values['pool-files']);
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
  xorriso(['-osirrox', 'on', '-indev', from, '-extract', '/md5sum.txt', join(tmp, 'md5sum.txt')]);
  const md5sum = readFileSync(join(tmp, 'md5sum.txt'), 'utf8') + lines.join('');
  rmSync(join(tmp, 'md5sum.txt'), { force: true });
  writeFileSync(join(tmp, 'md5sum.txt'), md5sum);
  rmSync(out, { force: true });
  // Modify mode with the boot setup replayed: El Torito, hybrid MBR/GPT and the EFI partition as in the fixture.
  xorriso(['-indev', from, '-outdev', out, '-boot_image', 'any', 'replay', '-map', pool, '/pool', '-map', join(tmp, 'md5sum.txt'), '/md5sum.txt', '-commit']);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
