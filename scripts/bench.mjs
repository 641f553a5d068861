#!/usr/bin/env node
// npm run bench — wall-clock comparisons on the fixtures, all measured in this run (never in a test):
// iso-build vs the same steps as raw tool commands, rebuild after one overlay change vs a full build,
// `layer` vs `repack` on the layered fixture, xz vs zstd. Writes bench/results.md. Needs root and the fixtures.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const loadBefore = loadavg().map((l) => l.toFixed(1)).join(' ');
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const FIX = join(REPO, 'fixtures/out');
if (process.getuid?.() !== 0) {
  console.error('bench: run as root (builds use chroot and mounts)');
  process.exit(2);
}
// Every run works in a tmpfs unless BENCH_TMP names a directory: this VM's virtual disk drifts by tens of percent
// within minutes (throughput after gigabytes written, discards after deletions), which would decide the ratios more
// than the programs do. iso-build and the raw commands get the same tmpfs.
const onDisk = process.env.BENCH_TMP !== undefined;
const tmp = mkdtempSync(join(process.env.BENCH_TMP ?? '/tmp', 'isobuild-bench-'));
if (!onDisk) execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16g,mode=0755', 'isobuild-bench', tmp]);
process.on('exit', () => {
  try {
    if (!onDisk) execFileSync('umount', [tmp]);
    rmSync(tmp, { recursive: true, force: true });
  } catch {
    console.error(`bench: ${tmp} is still mounted (a run left a mount inside it?): left for inspection`);
  }
});
process.on('SIGINT', () => process.exit(130));
execFileSync(join(REPO, 'scripts/make-fixture-iso'), ['--variant', 'all'], { stdio: 'inherit' });
execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'inherit' });

// openssl streams the file: the real-size bases are gigabytes
const sha = (f) => execFileSync('openssl', ['dgst', '-sha256', '-r', f], { encoding: 'utf8' }).slice(0, 64);
const iso = (v) => join(FIX, `fixture-${v}.iso`);

function time(fn) {
  // Writeback of the previous run's files (and the discards of its deletions) must not land in this run's time.
  execFileSync('sync');
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
/** Best of ROUNDS: the least disturbed run is the one that measures the work. */
function best(fn) {
  let min = Infinity;
  for (let i = 0; i < ROUNDS; i++) min = Math.min(min, fn(i));
  return min;
}
function run(cmd, args, env = {}) {
  execFileSync(cmd, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: 'true', SOURCE_DATE_EPOCH: '1700000000', ...env } });
}

/** A profile like profiles/fixture.yaml with its own overlay copy, so the bench can edit an overlay file. */
function profile(name, { variant = 'single', base = iso(variant), compression = 'zstd', level = 15, strategy = 'auto', chroot = true } = {}) {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  cpSync(join(REPO, 'overlay/fixture/rootfs'), join(dir, 'overlay'), { recursive: true });
  const file = join(dir, 'profile.yaml');
  writeFileSync(
    file,
    [
      `name: bench-${name}`,
      'base:',
      `  path: ${base}`,
      `  sha256: ${sha(base)}`,
      'rootfs:',
      `  compression: ${compression}`,
      ...(level && compression !== 'xz' && compression !== 'auto' ? [`  compressionLevel: ${level}`] : []),
      `  strategy: ${strategy}`,
      'overlay:',
      `  - source: ${join(dir, 'overlay')}`,
      '    target: /',
      ...(chroot
        ? [
            'chroot:',
            '  commands:',
            `    - ${JSON.stringify('mkdir -p /etc/novasphere && echo "chroot ran on Debian $(cat /etc/debian_version) as $(id -un)" > /etc/novasphere/chroot-proof')}`,
            '    - dpkg-query -W dpkg',
          ]
        : []),
      '',
    ].join('\n'),
  );
  return { dir, file };
}

function build(p, work, out, version = 'v1.0.0') {
  run('node', ['bin/iso-build.js', version, '--profile', p.file, '--work', work, '--output', out, '--force']);
  const name = /^name: (.+)$/m.exec(readFileSync(p.file, 'utf8'))[1];
  return join(out, `${name}-${version}.iso`);
}

const rows = [];
const row = (what, seconds, extra = '') => {
  rows.push({ what, seconds, extra });
  console.log(`${what.padEnd(58)} ${seconds.toFixed(2).padStart(7)} s  ${extra}`);
};

// BENCH_ONLY=real runs only section 6 (the real-size bases of issue 16).
const onlyReal = process.env.BENCH_ONLY === 'real';
let [tRepack, tLayer, raw, full, reb, rebLayer] = [NaN, NaN, NaN, NaN, NaN, NaN];
if (!onlyReal) {
// 1. layer vs repack on the layered fixture, first: the sections after it write gigabytes, and this VM's disk
// stays slow for minutes after that (both strategies alike, but the small layer build feels it most).
const layered = { layer: profile('layer', { variant: 'layered', strategy: 'layer' }), repack: profile('repack', { variant: 'layered', strategy: 'repack' }) };
// Repack and layer runs alternate (like the raw and full runs below): the disk's throughput drifts, and both
// strategies must see the same disk.
const layeredRuns = { repack: [], layer: [] };
for (let i = 0; i < ROUNDS; i++) {
  for (const name of ['repack', 'layer']) {
    const work = join(tmp, `${name}-work-${i}`);
    const t = time(() => build(layered[name], work, join(tmp, `${name}-out-${i}`)));
    // The time its build log says the pipeline ended: the rest is process start and exit.
    const done = /^pipeline done ([\d.]+) s/m.exec(readFileSync(join(work, 'build.log'), 'utf8'));
    layeredRuns[name].push({ t, pipeline: done ? Number(done[1]) : NaN });
    for (const dir of [work, join(tmp, `${name}-out-${i}`)]) rmSync(dir, { recursive: true, force: true });
  }
}
const runNotes = (runs) => `runs (pipeline end): ${runs.map((r) => `${r.t.toFixed(2)} (${r.pipeline.toFixed(2)})`).join(', ')}`;
tRepack = Math.min(...layeredRuns.repack.map((r) => r.t));
row('iso-build layered fixture, strategy repack', tRepack, runNotes(layeredRuns.repack));
tLayer = Math.min(...layeredRuns.layer.map((r) => r.t));
row('iso-build layered fixture, strategy layer', tLayer, `${((tLayer / tRepack) * 100).toFixed(0)}% of repack; ${runNotes(layeredRuns.layer)}`);
// 2. orchestration overhead: iso-build vs raw commands, same base, same steps, same compressor
const single = profile('single');
// Raw and iso-build runs alternate, and which goes first alternates too (raw, iso-build, iso-build, raw, ...): the
// disk's speed drifts during this section (it writes gigabytes), and a fixed order would hand all of the drift to one.
const rawTimes = [];
const fullTimes = [];
const rawRun = (i) =>
  rawTimes.push(
    time(() =>
      run('bash', [join(REPO, 'bench/raw-remaster.sh')], {
        BASE: iso('single'), OUT: join(tmp, `raw-${i}.iso`), WORK: join(tmp, `raw-work-${i}`), COMP: 'zstd', LEVEL: '15',
        OVERLAY: join(single.dir, 'overlay'), VERSION: 'v1.0.0',
      }),
    ),
  );
const fullRun = (i) => {
  fullTimes.push(time(() => build(single, join(tmp, `full-work-${i}`), join(tmp, `full-out-${i}`))));
  // The raw script deletes its work directory as its last step; so the next raw run does not start on a cleaner disk
  // than the next iso-build run (freed blocks are discarded on this VM's disk), this run's files go too (not timed).
  rmSync(join(tmp, `full-work-${i}`), { recursive: true, force: true });
};
for (let i = 0; i < ROUNDS; i++) {
  if (i % 2 === 0) {
    rawRun(i);
    fullRun(i);
  } else {
    fullRun(i);
    rawRun(i);
  }
}
raw = Math.min(...rawTimes);
full = Math.min(...fullTimes);
row('raw tool commands (bench/raw-remaster.sh), single fixture', raw, `runs: ${rawTimes.map((t) => t.toFixed(1)).join(', ')}`);
row('iso-build full build, single fixture', full, `overhead ratio ${(full / raw).toFixed(2)}x; runs: ${fullTimes.map((t) => t.toFixed(1)).join(', ')}`);

// 3. rebuild after one overlay change, in the work directory of a previous build
reb = best((i) => {
  const work = join(tmp, `rebuild-work-${i}`);
  build(single, work, join(tmp, `rebuild-out-a-${i}`));
  appendFileSync(join(single.dir, 'overlay/etc/novasphere/overlay-marker'), 'x');
  const t = time(() => build(single, work, join(tmp, `rebuild-out-b-${i}`)));
  for (const dir of [work, join(tmp, `rebuild-out-a-${i}`), join(tmp, `rebuild-out-b-${i}`)]) rmSync(dir, { recursive: true, force: true });
  return t;
});
row('iso-build rebuild after one overlay change, single fixture', reb, `${((reb / full) * 100).toFixed(0)}% of full`);

// the layered rebuild (needs tLayer from section 1)
rebLayer = best((i) => {
  const work = join(tmp, `layer-rebuild-work-${i}`);
  build(layered.layer, work, join(tmp, `layer-rebuild-out-a-${i}`));
  appendFileSync(join(layered.layer.dir, 'overlay/etc/novasphere/overlay-marker'), 'x');
  const t = time(() => build(layered.layer, work, join(tmp, `layer-rebuild-out-b-${i}`)));
  for (const dir of [work, join(tmp, `layer-rebuild-out-a-${i}`), join(tmp, `layer-rebuild-out-b-${i}`)]) rmSync(dir, { recursive: true, force: true });
  return t;
});
row('iso-build rebuild after one overlay change, layered (layer)', rebLayer, `${((rebLayer / tLayer) * 100).toFixed(0)}% of its full build`);

// 4. compressors (repack of the single fixture): time and ISO size
for (const [comp, level] of [['xz', 0], ['zstd', 15], ['zstd', 3], ['gzip', 9]]) {
  const p = profile(`${comp}${level}`, { compression: comp, level });
  let size = 0;
  const t = best((i) => {
    const [work, outDir] = [join(tmp, `${comp}${level}-work-${i}`), join(tmp, `${comp}${level}-out-${i}`)];
    const took = time(() => (size = statSync(build(p, work, outDir)).size));
    for (const dir of [work, outDir]) rmSync(dir, { recursive: true, force: true });
    return took;
  });
  row(`iso-build full build, ${comp}${level ? ` level ${level}` : ''}`, t, `ISO ${(size / 1e6).toFixed(1)} MB`);
}

}

// 6. real-size bases (issue 16), made from the fixtures by scripts/make-bench-base.mjs in this run's tmpfs and
// removed after; each ratio is against a floor measured in the same run, alternating with the build.
const goals = [];
{
  const ROUNDS_BIG = Math.min(ROUNDS, 2);
  const makeBase = (name, fixture, args) => {
    const out = join(tmp, `${name}.iso`);
    execFileSync('node', [join(REPO, 'scripts/make-bench-base.mjs'), iso(fixture), out, ...args], { stdio: 'inherit' });
    return out;
  };
  const floor = (base) => {
    const copy = join(tmp, 'floor-copy.iso');
    const t = time(() => execFileSync('bash', ['-c', 'cat "$1" > "$2"; sync', 'floor', base, copy]));
    rmSync(copy, { force: true });
    return t;
  };
  const stageTime = (work, title) => Number(new RegExp(`^stage "${title}[^"]*" took ([\\d.]+) s`, 'm').exec(readFileSync(join(work, 'build.log'), 'utf8'))?.[1] ?? 0);
  const duBytes = (dir) => Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
  const x = (a, b) => `${(a / b).toFixed(2)}x`;

  // 6a. 2 GB layered base, `layer`: cold build and rebuild after one overlay change, against copying the base once.
  const big = makeBase('layered-2g', 'layered', ['--pool-bytes', '1800000000', '--pool-files', '36']);
  const bigSize = statSync(big).size;
  const bigProfile = profile('layered-2g', { base: big, strategy: 'layer', chroot: false });
  const floors = [];
  const colds = [];
  const rebuilds = [];
  let workUse = NaN;
  for (let i = 0; i < ROUNDS_BIG; i++) {
    const [work, outA, outB] = [join(tmp, `big-work-${i}`), join(tmp, `big-out-a-${i}`), join(tmp, `big-out-b-${i}`)];
    if (i % 2 === 0) floors.push(floor(big));
    colds.push(time(() => build(bigProfile, work, outA)));
    if (i === 0) workUse = duBytes(work) / bigSize;
    rmSync(outA, { recursive: true, force: true });
    appendFileSync(join(bigProfile.dir, 'overlay/etc/novasphere/overlay-marker'), 'x');
    rebuilds.push(time(() => build(bigProfile, work, outB)));
    for (const dir of [work, outB]) rmSync(dir, { recursive: true, force: true });
    if (i % 2 === 1) floors.push(floor(big));
  }
  rmSync(big, { force: true });
  const tFloor = Math.min(...floors);
  const tCold = Math.min(...colds);
  const tReb = Math.min(...rebuilds);
  row(`floor: cat base.iso > out.iso; sync (${(bigSize / 1e9).toFixed(2)} GB layered base)`, tFloor, `runs: ${floors.map((t) => t.toFixed(2)).join(', ')}`);
  row('iso-build 2 GB layered base, layer, cold build', tCold, `${x(tCold, tFloor)} the floor; runs: ${colds.map((t) => t.toFixed(1)).join(', ')}`);
  row('iso-build 2 GB layered base, rebuild after one overlay change', tReb, `${x(tReb, tFloor)} the floor; runs: ${rebuilds.map((t) => t.toFixed(1)).join(', ')}`);
  goals.push(['2 GB layered base, `layer`, cold build / copying the base once', x(tCold, tFloor), '≤ 3x']);
  goals.push(['same, rebuild after one overlay change / copying the base once', x(tReb, tFloor), '≤ 2x']);

  // 6b. single-squashfs base with a bigger rootfs, the profile's compressor equal to the base's: cold build against
  // copying the base plus the chroot commands' own time (from the build log).
  // Like the issue's Debian live ISO (one xz squashfs, a rootfs of about 700 MB, a few hundred MB of ISO); the profile
  // leaves rootfs.compression at its default, auto: the base's own xz.
  const single = makeBase('single-big', 'single', ['--pool-files', '0', '--rootfs-bytes', '600000000', '--comp', 'xz']);
  const singleProfile = profile('single-big', { base: single, compression: 'auto' });
  const sFloor = floor(single);
  const singleMB = (statSync(single).size / 1e6).toFixed(0);
  const sWork = join(tmp, 'single-big-work');
  const sCold = time(() => build(singleProfile, sWork, join(tmp, 'single-big-out')));
  const chrootWork = stageTime(sWork, 'Run chroot commands');
  const repack = stageTime(sWork, 'Repack rootfs squashfs');
  for (const f of [single, sWork, join(tmp, 'single-big-out')]) rmSync(f, { recursive: true, force: true });
  row(`iso-build single-squashfs base (${singleMB} MB, +600 MB rootfs, xz; compression auto), cold build`, sCold, `floor ${sFloor.toFixed(2)} s + chroot ${chrootWork.toFixed(2)} s: ${x(sCold, sFloor + chrootWork)}; of it repack ${repack.toFixed(1)} s`);
  goals.push(['single-squashfs base, same compressor as the base, cold build / (copy of the base + the chroot work)', x(sCold, sFloor + chrootWork), '≤ 4x']);
  goals.push(['work directory\'s disk use / base ISO size (2 GB base, after a build)', workUse.toFixed(2), '≤ 1.3']);
  goals.push(['fixture full build / raw tool commands (section 2 above)', Number.isNaN(full) ? 'not run (BENCH_ONLY=real)' : (full / raw).toFixed(2), '≤ 1.0']);

  // 6c. 22.04-like base (the jammy fixture's five layers, 613 files in md5sum.txt): `layer` with one file added,
  // against what livefs-editor does for it as raw commands (bench/raw-add-layer.sh: pack a layer with the file in the
  // base's compressor, rebuild the ISO with the boot setup replayed). livefs-editor itself loop-mounts the ISO, which
  // this kernel (no iso9660) cannot.
  const jammy = makeBase('jammy-613', 'jammy', ['--pool-bytes', '23000000', '--pool-files', '568']);
  const comp = /^Compression (\w+)/m.exec(execFileSync('bash', ['-c', 'xorriso -osirrox on -indev "$1" -extract /casper/ubuntu-server-minimal.squashfs "$2" 2>/dev/null; unsquashfs -s "$2"; rm -f "$2"', 's', jammy, join(tmp, 'layer0.sq')], { encoding: 'utf8' }))?.[1] ?? 'xz';
  const jammyProfile = profile('jammy-613', { base: jammy, strategy: 'layer', compression: comp, level: comp === 'xz' ? 0 : 15, chroot: false });
  const jRaw = [];
  const jBuild = [];
  for (let i = 0; i < ROUNDS; i++) {
    const [work, out] = [join(tmp, `jammy-work-${i}`), join(tmp, `jammy-out-${i}`)];
    const rawRun = () =>
      jRaw.push(time(() => run('bash', [join(REPO, 'bench/raw-add-layer.sh')], { BASE: jammy, OUT: join(tmp, `jammy-raw-${i}.iso`), WORK: join(tmp, `jammy-raw-work-${i}`), COMP: comp, FILE: join(jammyProfile.dir, 'overlay/etc/novasphere/overlay-marker') })));
    if (i % 2 === 0) rawRun();
    jBuild.push(time(() => build(jammyProfile, work, out)));
    if (i % 2 === 1) rawRun();
    for (const f of [work, out, join(tmp, `jammy-raw-${i}.iso`)]) rmSync(f, { recursive: true, force: true });
  }
  rmSync(jammy, { force: true });
  const [jr, jb] = [Math.min(...jRaw), Math.min(...jBuild)];
  row('livefs-editor\'s steps as raw commands (bench/raw-add-layer.sh), 22.04-like base', jr, `runs: ${jRaw.map((t) => t.toFixed(2)).join(', ')}`);
  row('iso-build 22.04-like base, layer, one file added', jb, `${x(jb, jr)} the raw steps; runs: ${jBuild.map((t) => t.toFixed(2)).join(', ')}`);
  goals.push([`22.04-like base, \`layer\`, one file added / livefs-editor's steps adding a layer with that file (${comp})`, x(jb, jr), '≤ 1.0']);
}

// 5. in-process readers (issue 6), when present
const readers = join(REPO, 'scripts/bench-readers.mjs');
let readerReport = '';
if (!onlyReal && existsSync(readers)) {
  try {
    readerReport = execFileSync('node', [readers], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (err) {
    // It exits non-zero when its own target is missed: the table above still belongs in the results, with its report.
    readerReport = String(err.stdout ?? '');
  }
}

const cpu = cpus()[0]?.model ?? 'unknown cpu';
const md = [
  '# iso-build benchmark',
  '',
  `${new Date().toISOString()} — ${availableParallelism()} cores (${cpu}), best of ${ROUNDS} runs, all measured in the same run; ` +
    `work directories ${onDisk ? `on disk (${process.env.BENCH_TMP})` : 'in a tmpfs (BENCH_TMP=dir measures on disk)'}.`,
  '',
  '| what | seconds | notes |',
  '| --- | ---: | --- |',
  ...rows.map((r) => `| ${r.what} | ${r.seconds.toFixed(2)} | ${r.extra} |`),
  '',
  `Targets (issue 5): overhead ≤ 1.10x — ${(full / raw).toFixed(2)}x; overlay-only rebuild ≤ 25% of full — ${((reb / full) * 100).toFixed(0)}%; layer ≤ 30% of repack — ${((tLayer / tRepack) * 100).toFixed(0)}%.`,
  '',
  `Goals of issue 16 (real-size bases, section 6; load average ${loadBefore} before the run, ${loadavg().map((l) => l.toFixed(1)).join(' ')} after):`,
  '',
  '| measure | this run | goal |',
  '| --- | --- | --- |',
  ...goals.map(([what, now, goal]) => `| ${what} | ${now} | ${goal} |`),
  ...(readerReport ? ['', readerReport.trim()] : []),
  '',
];
mkdirSync(join(REPO, 'bench'), { recursive: true });
writeFileSync(join(REPO, 'bench/results.md'), md.join('\n'));
console.log(`\nwrote bench/results.md`);
