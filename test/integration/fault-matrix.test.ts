/**
 * The fault matrix: a signal into every stage of a build (SIGINT and SIGTERM, timed by the build log's `stage "X"
 * starts` lines) and SIGKILL during the stage-cache save and during mksquashfs in the repack. After each: no mount and
 * no loop device of the build, no process naming its work directory, no `*.partial` and no incomplete ISO at the output
 * path (a release that did complete must be the clean build's bytes); and the next build in the same work directory
 * succeeds and is byte-identical to a clean build (a half-written stage-cache entry is never reused).
 * Read back with findmnt, losetup and /proc, not with the code under test.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO, findmntUnder, runCli, sh, sha256, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';
import { fixtureProfile, writeProfile } from '../support/profile.js';

type Sig = 'SIGINT' | 'SIGTERM' | 'SIGKILL';

const tried: string[] = [];
const held: string[] = [];

/** Runs a build and sends `signal` once `when(log)` holds; resolves with the exit and the stage the signal landed in. */
function buildAndSignal(args: string[], log: string, signal: Sig, when: (log: string) => boolean): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; sent: boolean; stage?: string }> {
  rmSync(log, { force: true }); // the previous case's log names the stage too: wait for this build's own line
  return new Promise((resolvePromise, reject) => {
    const child = spawn('node', [CLI, ...args], { cwd: REPO, env: { ...process.env, CI: 'true' } });
    let stderr = '';
    let sent = false;
    let stage: string | undefined;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    const poll = setInterval(() => {
      if (sent || !existsSync(log)) return;
      const text = readFileSync(log, 'utf8');
      if (!when(text)) return;
      sent = true;
      stage = [...text.matchAll(/^stage "(.*)" starts$/gm)].pop()?.[1];
      child.kill(signal);
    }, 20);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('build did not end within 180 s'));
    }, 180_000);
    child.on('exit', (code, sig) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolvePromise({ code, signal: sig, stderr, sent, stage });
    });
  });
}

/** Processes (other than this test) whose command line, cwd or root names `dir`. */
function processesNaming(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      const links = ['cwd', 'root'].map((l) => {
        try {
          return readlinkSync(`/proc/${pid}/${l}`);
        } catch {
          return '';
        }
      });
      if (cmd.includes(dir) || links.some((l) => l === dir || l.startsWith(`${dir}/`))) found.push(`${pid} ${cmd}`);
    } catch {
      /* gone */
    }
  }
  return found;
}

function loopDevicesOf(dirs: string[]): string[] {
  const out = sh('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE']);
  return out.split('\n').filter((l) => dirs.some((d) => l.includes(d)));
}

async function settled(check: () => string[], ms = 5000): Promise<string[]> {
  const until = Date.now() + ms;
  let left = check();
  while (left.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    left = check();
  }
  return left;
}

describe('fault matrix: signals in every stage', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  let profile: string;
  let cleanSha: string;
  let stages: string[];
  const isoName = 'faults-v1.0.0.iso';
  const args = (work: string, out: string): string[] => ['v1.0.0', '--profile', profile, '--output', out, '--work', work];

  beforeAll(() => {
    dir = tempDir('faults');
    for (const hook of ['pre', 'post', 'repack', 'build']) {
      writeFileSync(join(dir, `${hook}.sh`), 'sleep 0.3\n');
      chmodSync(join(dir, `${hook}.sh`), 0o755);
    }
    profile = writeProfile(
      dir,
      'faults',
      fixtureProfile('faults', {
        sourceDateEpoch: 1_700_000_000, // byte-identical builds: the temp dir has no git tag to date them by
        chroot: { commands: ['sleep 0.3'] },
        hooks: { 'pre-customize': ['pre.sh'], 'post-customize': ['post.sh'], 'pre-repack': ['repack.sh'], 'post-build': ['build.sh'] },
      }),
    );
    const clean = runCli(args(join(dir, 'work-clean'), join(dir, 'out-clean')));
    expect(clean.stderr).toBe(clean.code === 0 ? clean.stderr : '<a clean build>');
    cleanSha = sha256(join(dir, 'out-clean', isoName));
    stages = [...readFileSync(join(dir, 'work-clean', 'build.log'), 'utf8').matchAll(/^stage "(.*)" starts$/gm)].map((m) => m[1]!);
  }, 240_000);
  afterAll(() => {
    console.log(`fault matrix: ${held.length} of ${tried.length} cases held`);
    rmSync(dir, { recursive: true, force: true });
  });

  /** The invariants after a signalled build; returns the failures (empty: held). */
  async function check(name: string, work: string, out: string, res: { code: number | null; signal: NodeJS.Signals | null; stderr: string }, sig: Sig): Promise<void> {
    tried.push(name);
    const expected = sig === 'SIGKILL' ? [null] : [0, sig === 'SIGINT' ? 130 : 143];
    expect(expected, `${name}: exit ${res.code} ${res.signal}\n${res.stderr.slice(-800)}`).toContain(res.code);
    if (sig !== 'SIGKILL') expect(res.stderr, name).not.toMatch(/^\s+at /m);
    expect(await settled(() => processesNaming(work)), `${name}: processes left`).toEqual([]);
    expect(await settled(() => [...findmntUnder(work), ...findmntUnder(out)]), `${name}: mounts left`).toEqual([]);
    expect(await settled(() => loopDevicesOf([work, out])), `${name}: loop devices left`).toEqual([]);
    const left = existsSync(out) ? readdirSync(out) : [];
    expect(left.filter((f) => f.endsWith('.partial')), `${name}: partial files`).toEqual([]);
    // Either the release is complete (the clean build's bytes) or no ISO of it is there.
    if (left.includes(isoName)) expect(sha256(join(out, isoName)), `${name}: a complete release`).toBe(cleanSha);
    rmSync(out, { recursive: true, force: true }); // each case starts without an earlier release
    held.push(name);
  }

  it('SIGINT and SIGTERM at the start of each stage; then the next build is byte-identical', async () => {
    const work = join(dir, 'work-signals');
    const out = join(dir, 'out-signals');
    expect(stages.length).toBeGreaterThan(10);
    for (const stage of stages) {
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        const res = await buildAndSignal(args(work, out), join(work, 'build.log'), sig, (log) => log.includes(`stage "${stage}" starts`));
        // A stage the stage cache skips is not reached again: the build runs to its end and the case is about nothing.
        await check(`${sig} in "${res.stage ?? stage}"${res.sent ? '' : ' (not reached: build completed)'}`, work, out, res, sig);
      }
    }
    const next = runCli(args(work, out));
    expect(next.code, next.stderr).toBe(0);
    expect(sha256(join(out, isoName))).toBe(cleanSha);
  }, 900_000);

  it('SIGKILL during the stage-cache save and during mksquashfs; then the next build is byte-identical', async () => {
    const cases: { name: string; when: (log: string) => boolean }[] = [
      { name: 'SIGKILL during the stage-cache save', when: (log) => /^stage "[^"]*[Ss]tage cache[^"]*" starts$/m.test(log) },
      { name: 'SIGKILL during mksquashfs in the repack', when: (log) => /^stage "Repack[^"]*" starts$[\s\S]*^\$ mksquashfs /m.test(log) },
    ];
    for (const c of cases) {
      const work = join(dir, `work-kill-${tried.length}`);
      const out = join(dir, `out-kill-${tried.length}`);
      const res = await buildAndSignal(args(work, out), join(work, 'build.log'), 'SIGKILL', c.when);
      expect(res.sent, c.name).toBe(true);
      await check(`${c.name} ("${res.stage}")`, work, out, res, 'SIGKILL');
      const next = runCli(args(work, out));
      expect(next.code, next.stderr).toBe(0);
      expect(sha256(join(out, isoName)), `${c.name}: the next build`).toBe(cleanSha);
    }
  }, 600_000);
});
