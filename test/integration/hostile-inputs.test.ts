/**
 * Hostile inputs: crafted base ISOs (symlinks out of the tree, in the squashfs, names with newlines), hostile overlays,
 * careless --work/--output arguments, --force over a release, leftovers of a killed build, a signal during publish and a
 * full output disk. Each case asserts the exit code, a one-line message (no stack trace) and that a decoy tree outside
 * the work and output directories, which the crafted symlinks point at, is exactly as it was (paths, modes, hashes).
 * The ISOs are crafted from the single fixture with xorriso (-indev/-outdev: a copy with a few entries changed).
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CLI, REPO, findmntUnder, fixtureIso, runCli, runCliAsync, sh, sha256, tempDir, type CliResult } from '../support/cli.js';
import { needs, requireFixtures, requireRoot, requireTools } from '../support/needs.js';
import { FIXTURE_OVERLAY, fixtureProfile, writeProfile, type ProfileDocument } from '../support/profile.js';
import { mksquashfs } from '../support/squashfs.js';

let tried = 0;
let held = 0;

/** Every entry under `root` with its type, mode and content hash (or link target): what "unchanged" means here. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    const path = join(root, rel);
    const st = lstatSync(path);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out[rel] = `link ${readlinkSync(path)}`;
    else if (st.isDirectory()) {
      out[rel] = `dir ${mode}`;
      for (const name of readdirSync(path)) walk(rel ? `${rel}/${name}` : name);
    } else out[rel] = `file ${mode} ${st.size} ${sha256(path)}`;
  };
  walk('');
  return out;
}

/** Exit code, one `error:` line (then at most a `hint:` line), no stack trace, no "internal error". */
function expectOneLineError(res: CliResult, code: number, message: RegExp): void {
  const lines = res.stderr.split('\n').filter((l) => l.trim() !== '');
  const errors = lines.filter((l) => l.startsWith('error: '));
  expect(res.stderr).not.toMatch(/^\s+at /m);
  expect(res.stderr).not.toContain('internal error');
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(message);
  const after = lines.slice(lines.indexOf(errors[0]!) + 1);
  expect(after.every((l) => l.startsWith('hint: '))).toBe(true);
  expect(res.code).toBe(code);
}

function isoFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.includes('.iso') || f.endsWith('.partial')) : [];
}

/** The CLI, sent `signal` once `ready()` holds. */
function runCliSignalled(args: string[], signal: NodeJS.Signals, ready: () => boolean): Promise<CliResult & { sent: boolean }> {
  return new Promise((resolvePromise) => {
    const child = spawn('node', [CLI, ...args], { cwd: REPO, env: { ...process.env, CI: 'true' } });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const poll = setInterval(() => {
      if (!sent && ready()) {
        sent = true;
        child.kill(signal);
      }
    }, 20);
    child.on('exit', (code, sig) => {
      clearInterval(poll);
      resolvePromise({ code, signal: sig, stdout, stderr, sent });
    });
  });
}

describe('hostile inputs never touch the host or lose a release', needs(requireRoot(), requireFixtures(), requireTools('xorriso', 'unsquashfs', 'mksquashfs', 'sha256sum')), () => {
  let dir: string;
  let decoy: string;
  let before: Record<string, string>;
  const mounts: string[] = [];

  /** A copy of the single fixture with `edits` (xorriso commands, each list ended by `--` where it takes several args). */
  function craftIso(name: string, edits: string[]): string {
    const out = join(dir, `${name}.iso`);
    sh('xorriso', ['-indev', fixtureIso('single'), '-outdev', out, '-boot_image', 'any', 'replay', ...edits, '-commit']);
    return out;
  }

  function profileOn(name: string, iso: string, sections: Partial<ProfileDocument> = {}): string {
    return writeProfile(dir, name, fixtureProfile(name, { base: { path: iso, sha256: sha256(iso) }, ...sections }));
  }

  /** Runs `body` as one case: counted as tried, and as held only when every assertion in it passed, decoy included. */
  async function hostileCase(body: () => void | Promise<void>): Promise<void> {
    tried++;
    await body();
    expect(snapshot(decoy)).toEqual(before);
    held++;
  }

  function build(args: string[]): CliResult {
    return runCli(['v1.0.0', ...args]);
  }

  beforeAll(() => {
    dir = tempDir('hostile');
    decoy = join(dir, 'decoy');
    for (const d of ['apt', 'archives/partial', 'lists', 'etc']) mkdirSync(join(decoy, d), { recursive: true });
    const files: Record<string, string> = {
      secret: 'host secret\n',
      info: 'host .disk/info\n',
      'grub.cfg': 'host grub.cfg\n',
      'dpkg.log': 'host log\n',
      'alternatives.log': 'host log\n',
      'pkgcache.bin': 'host cache\n',
      'apt/history.log': 'host apt log\n',
      'archives/x.deb': 'host deb\n',
      'archives/partial/y': 'host partial\n',
      'lists/z_Packages': 'host list\n',
      'etc/passwd': 'host passwd\n',
    };
    for (const [f, text] of Object.entries(files)) writeFileSync(join(decoy, f), text);
    before = snapshot(decoy);
  });

  afterAll(() => {
    for (const m of mounts.reverse()) {
      try {
        sh('umount', [m]);
      } catch {
        /* not mounted */
      }
    }
    expect(findmntUnder(dir)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
    console.log(`hostile inputs: ${held} of ${tried} cases tried held`);
  });

  function tmpfs(name: string, options: string): string {
    const target = join(dir, name);
    mkdirSync(target, { recursive: true });
    sh('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', target]);
    mounts.push(target);
    return target;
  }

  it('a base ISO with absolute symlinks at .disk/info, boot/grub/grub.cfg and md5sum.txt is refused, naming one', async () => {
    await hostileCase(() => {
      const iso = craftIso('abs-links', [
        '-rm', '/.disk/info', '/boot/grub/grub.cfg', '/md5sum.txt', '--',
        '-lns', join(decoy, 'info'), '/.disk/info',
        '-lns', join(decoy, 'grub.cfg'), '/boot/grub/grub.cfg',
        '-lns', join(decoy, 'secret'), '/md5sum.txt',
      ]);
      const out = join(dir, 'out-abs');
      const res = build(['--profile', profileOn('abs-links', iso), '--output', out, '--work', join(dir, 'work-abs')]);
      expectOneLineError(res, 2, /^error: the base ISO .*: (\.disk\/info|boot\/grub\/grub\.cfg|md5sum\.txt) is a symlink to .*decoy\/(info|grub\.cfg|secret), which leads out of it$/);
      expect(isoFiles(out)).toEqual([]);
    });
  });

  it('a base ISO with a relative symlink climbing out of the tree, and one whose rootfs image is a link to a host file', async () => {
    await hostileCase(() => {
      const climb = `${'../'.repeat(24)}${decoy.slice(1)}/secret`;
      const iso = craftIso('climb', ['-lns', climb, '/boot/grub/theme.cfg']);
      const res = build(['--profile', profileOn('climb', iso), '--output', join(dir, 'out-climb'), '--work', join(dir, 'work-climb')]);
      expectOneLineError(res, 2, /^error: the base ISO .*: boot\/grub\/theme\.cfg is a symlink to (\.\.\/)+.*decoy\/secret, which leads out of it$/);
    });
    await hostileCase(() => {
      const iso = craftIso('sq-link', ['-rm', '/casper/filesystem.squashfs', '--', '-lns', join(decoy, 'secret'), '/casper/filesystem.squashfs']);
      const res = build(['--profile', profileOn('sq-link', iso), '--output', join(dir, 'out-sq-link'), '--work', join(dir, 'work-sq-link')]);
      expectOneLineError(res, 2, /^error: the base ISO .*: casper\/filesystem\.squashfs is a symlink to .*decoy\/secret, which leads out of it$/);
    });
  });

  it('a base ISO with a newline in a path name is refused (md5sum.txt could not list it)', async () => {
    await hostileCase(() => {
      const iso = craftIso('newline', ['-mkdir', '/odd\nname', '--']);
      const res = build(['--profile', profileOn('newline', iso), '--output', join(dir, 'out-nl'), '--work', join(dir, 'work-nl')]);
      expectOneLineError(res, 2, /^error: the base ISO .*: the path "odd\\nname" has a line break in its name/);
    });
  });

  it('overlays: a symlink out of the ISO tree, a device node and a newline name into the ISO are refused', async () => {
    const overlayCase = async (name: string, fill: (src: string) => void, message: RegExp): Promise<void> =>
      hostileCase(() => {
        const src = join(dir, `overlay-${name}`);
        mkdirSync(src, { recursive: true });
        fill(src);
        const profile = writeProfile(dir, `ovl-${name}`, fixtureProfile(`ovl-${name}`, { overlay: [FIXTURE_OVERLAY, { source: src, target: '/', into: name === 'device' ? 'rootfs' : 'iso' }] }));
        const out = join(dir, `out-ovl-${name}`);
        const res = build(['--profile', profile, '--output', out, '--work', join(dir, 'work-ovl')]);
        expectOneLineError(res, 2, message);
        expect(isoFiles(out)).toEqual([]);
      });
    await overlayCase('link', (src) => symlinkSync(join(decoy, 'secret'), join(src, 'evil')), /^error: overlay .* into the ISO tree: evil is a symlink to .*decoy\/secret, which leads out of it$/);
    await overlayCase('device', (src) => sh('mknod', [join(src, 'null'), 'c', '1', '3']), /^error: overlay entry .*\/null is not a file, directory or symlink$/);
    await overlayCase('newline', (src) => writeFileSync(join(src, 'a\nb'), 'x'), /^error: overlay .* into the ISO tree: the path "\/a\\nb" has a line break/);
  });

  it('an image archive in a payload with a ../../ member or an absolute symlink member is refused by the payload check', async () => {
    await hostileCase(() => {
      const payload = join(dir, 'payload');
      const src = join(dir, 'payload-src');
      mkdirSync(join(payload, 'images'), { recursive: true });
      mkdirSync(src);
      writeFileSync(join(src, 'x'), 'x');
      symlinkSync(join(decoy, 'etc/passwd'), join(src, 'passwd'));
      const tar = join(payload, 'images/hello.tar');
      sh('cp', [join(REPO, 'test/fixtures/packages/hello-image-oci.tar'), tar]);
      sh('tar', ['-rf', tar, '-C', src, '-P', '--transform', 's,^x$,../../x,', 'x', 'passwd']);
      const res = runCli(['packages', 'verify', payload]);
      expectOneLineError(res, 3, /images\/hello\.tar: member \.\.\/\.\.\/x leads out of the directory it would be extracted into; images\/hello\.tar: member passwd -> \/.*decoy\/etc\/passwd leads out/);
    });
  });

  // The release the later cases work on: a crafted squashfs (/var/log an absolute link to the decoy), a chroot command
  // that makes /var/cache/apt one too, an overlay with a setuid file and a newline name; a second build on the same
  // work directory meanwhile fails at once.
  const work = (): string => join(dir, 'work-main');
  const out1 = (): string => join(dir, 'out-main');
  let mainProfile: string;

  it('rootfs symlinks to host paths (squashfs, chroot command): the leftovers cleanup deletes nothing on the host; setuid and newline names kept', async () => {
    await hostileCase(async () => {
      const sq = join(dir, 'fs.squashfs');
      sh('xorriso', ['-osirrox', 'on', '-indev', fixtureIso('single'), '-extract', '/casper/filesystem.squashfs', sq]);
      const tree = join(dir, 'rootfs-tree');
      sh('unsquashfs', ['-q', '-n', '-d', tree, sq]);
      rmSync(join(tree, 'var/log'), { recursive: true, force: true });
      symlinkSync(decoy, join(tree, 'var/log'));
      mksquashfs(tree, join(dir, 'crafted.squashfs'), ['-comp', 'gzip']);
      rmSync(tree, { recursive: true, force: true });
      const iso = craftIso('rootfs-links', ['-rm', '/casper/filesystem.squashfs', '--', '-map', join(dir, 'crafted.squashfs'), '/casper/filesystem.squashfs']);
      const ovl = join(dir, 'overlay-main');
      mkdirSync(join(ovl, 'usr/local/bin'), { recursive: true });
      writeFileSync(join(ovl, 'usr/local/bin/suidhelper'), '#!/bin/sh\n');
      chmodSync(join(ovl, 'usr/local/bin/suidhelper'), 0o4755);
      mkdirSync(join(ovl, 'etc/odd'), { recursive: true });
      writeFileSync(join(ovl, 'etc/odd/two\nlines'), 'x');
      mainProfile = profileOn('main', iso, {
        chroot: { commands: [`rm -rf /var/cache/apt && ln -s ${decoy} /var/cache/apt`, 'sleep 2'] },
        overlay: [FIXTURE_OVERLAY, { source: ovl, target: '/' }],
      });
      const first = runCliAsync(['v1.0.0', '--profile', mainProfile, '--output', out1(), '--work', work()]);
      const lock = join(work(), '.iso-build-lock');
      for (let i = 0; i < 300 && !existsSync(lock); i++) await new Promise((r) => setTimeout(r, 100));
      const second = await runCliAsync(['v1.0.0', '--profile', mainProfile, '--output', join(dir, 'out-second'), '--work', work()]);
      expectOneLineError(second, 2, /^error: the work directory .* is in use by another build: iso-build .*\(pid \d+ on .*, since .*\)$/);
      // Another work directory but the same release directory: refused too, and the first build's *.iso.partial stays.
      const outLock = join(out1(), '.iso-build-lock');
      for (let i = 0; i < 300 && !existsSync(outLock); i++) await new Promise((r) => setTimeout(r, 100));
      const third = await runCliAsync(['v1.0.0', '--profile', mainProfile, '--output', out1(), '--work', join(dir, 'work-third')]);
      expectOneLineError(third, 2, /^error: the output directory .* is in use by another build: iso-build .*\(pid \d+ on .*, since .*\)$/);
      const res = await first;
      expect(res.code, res.stderr).toBe(0);
      const built = join(out1(), 'main-v1.0.0.iso');
      sh('sha256sum', ['-c', 'SHA256SUMS'], out1());
      const extracted = join(dir, 'main-fs.squashfs');
      sh('xorriso', ['-osirrox', 'on', '-indev', built, '-extract', '/casper/filesystem.squashfs', extracted]);
      const back = join(dir, 'main-back');
      sh('unsquashfs', ['-q', '-n', '-d', back, extracted, 'usr/local/bin/suidhelper', 'etc/odd']);
      expect(statSync(join(back, 'usr/local/bin/suidhelper')).mode & 0o7777).toBe(0o4755);
      expect(readdirSync(join(back, 'etc/odd'))).toEqual(['two\nlines']);
      expect(readFileSync(join(work(), 'build.log'), 'utf8')).toContain('overlay: /usr/local/bin/suidhelper keeps its setuid bit');
      rmSync(back, { recursive: true, force: true });
    });
  });

  it('--force with a build that then fails leaves the earlier release exactly as it was', async () => {
    await hostileCase(() => {
      const release = snapshot(out1());
      // the same profile name (so the same ISO name), a chroot command that fails after the point where --force used to delete
      const failing = writeProfile(dir, 'main-failing', { ...readProfileDoc(mainProfile), chroot: { commands: ['exit 3'] } });
      const res = build(['--profile', failing, '--output', out1(), '--work', work(), '--force']);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/^error: chroot command 1 .*exit code 3/m);
      expect(res.stderr).not.toMatch(/^\s+at /m);
      expect(snapshot(out1())).toEqual(release);
    });
  });

  it('--force replaces the release only by a complete one: stale signature and partials go, a dead build\'s lock is taken over', async () => {
    await hostileCase(() => {
      writeFileSync(join(out1(), 'SHA256SUMS.asc'), 'a signature of other sums\n');
      writeFileSync(join(out1(), 'other-v0.9.iso.partial'), 'killed');
      writeFileSync(join(out1(), 'SHA256SUMS.partial'), 'killed');
      writeFileSync(join(work(), '.iso-build-lock'), `${JSON.stringify({ pid: 999999999, startTime: '1', bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), host: hostname(), what: 'a killed build', since: 'then' })}\n`); // a pid that cannot exist
      const res = build(['--profile', mainProfile, '--output', out1(), '--work', work(), '--force']);
      expect(res.code, res.stderr).toBe(0);
      expect(readdirSync(out1()).sort()).toEqual(['RELEASE-NOTES.md', 'SHA256SUMS', 'build-manifest.json', 'main-v1.0.0.iso', 'report.html']);
      sh('sha256sum', ['-c', 'SHA256SUMS'], out1());
      expect(existsSync(join(work(), '.iso-build-lock'))).toBe(false); // released at exit
    });
  });

  it('SIGTERM during "Write release artifacts": the release is complete and exit 0, or nothing of it is left; a killed build\'s leftovers go', async () => {
    await hostileCase(async () => {
      const out = join(dir, 'out-signal');
      mkdirSync(out);
      writeFileSync(join(out, 'build-manifest.json'), JSON.stringify({ iso: { name: 'main-v0.9.iso' } }));
      writeFileSync(join(out, 'main-v1.0.0.iso.partial'), 'killed');
      writeFileSync(join(out, 'RELEASE-NOTES.md.partial'), 'killed');
      const log = join(work(), 'build.log');
      rmSync(log); // the earlier build's: the signal waits for this build's verify stage
      const res = await runCliSignalled(['v1.0.0', '--profile', mainProfile, '--output', out, '--work', work()], 'SIGTERM', () => {
        try {
          return readFileSync(log, 'utf8').includes('stage "Verify the new ISO" took');
        } catch {
          return false;
        }
      });
      expect(res.sent).toBe(true);
      console.log(`hostile inputs: SIGTERM during publish ended with exit ${res.code}`);
      if (res.code === 0) {
        sh('sha256sum', ['-c', 'SHA256SUMS'], out);
        expect(readdirSync(out).sort()).toEqual(['RELEASE-NOTES.md', 'SHA256SUMS', 'build-manifest.json', 'main-v1.0.0.iso', 'report.html']);
      } else {
        expectOneLineError(res, 143, /^error: SIGTERM: build stopped \(.*\); mounts released, nothing written to /);
        expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
      }
    });
  });

  it('SIGINT during a post-build hook, after the release is complete, says so (not "nothing written")', async () => {
    await hostileCase(async () => {
      const out = join(dir, 'out-hook');
      const started = join(dir, 'hook-started');
      writeFileSync(join(dir, 'post-build-sleep.sh'), `touch ${started}\nsleep 30\n`);
      const profile = writeProfile(dir, 'main-hook', { ...readProfileDoc(mainProfile), hooks: { 'post-build': ['post-build-sleep.sh'] } });
      const res = await runCliSignalled(['v1.0.0', '--profile', profile, '--output', out, '--work', work()], 'SIGINT', () => existsSync(started));
      expect(res.sent).toBe(true);
      expectOneLineError(res, 130, new RegExp(`^error: SIGINT: build stopped \\(.*\\); mounts released, the release in ${out} is complete$`));
      sh('sha256sum', ['-c', 'SHA256SUMS'], out);
    });
  });

  it('a full output disk while writing release artifacts: one line and a hint, nothing half-written left', async () => {
    await hostileCase(() => {
      const isoSize = statSync(join(out1(), 'main-v1.0.0.iso')).size;
      // room for the ISO and one page: the manifest, the notes or the report no longer fit
      const out = tmpfs('out-full', `size=${Math.ceil(isoSize / 4096) * 4096 + 4096}`);
      const res = build(['--profile', mainProfile, '--output', out, '--work', work()]);
      expectOneLineError(res, 1, new RegExp(`^error: the output directory ${out} has no space left \\(ENOSPC\\)$`));
      expect(readdirSync(out)).toEqual([]);
    });
  });

  it('careless --work and --output arguments are refused before anything is deleted', async () => {
    const refused = async (args: string[], code: number, message: RegExp, check?: () => void): Promise<void> =>
      hostileCase(() => {
        expectOneLineError(build(['--profile', mainProfile, ...args]), code, message);
        check?.();
      });
    const out = join(dir, 'out-args');
    // the decoy holds files iso-build did not make: refused, and the decoy check after the case proves nothing went
    await refused(['--output', out, '--work', decoy], 2, /^error: the work directory .*decoy holds files iso-build did not make/);
    await refused(['--output', out, '--work', out], 2, /must not be, contain or lie inside the output directory/);
    await refused(['--output', out, '--work', join(out, 'work')], 2, /must not be, contain or lie inside the output directory/);
    await refused(['--output', join(work(), 'release'), '--work', work()], 2, /must not be, contain or lie inside the output directory/);
    await refused(['--output', out, '--work', '/'], 2, /^error: the work directory must not be \/$/);
    const mounted = tmpfs('work-mount', 'size=1m');
    writeFileSync(join(mounted, 'keep'), 'data on the mount');
    await refused(['--output', out, '--work', mounted], 2, /^error: the work directory .* is a mount point$/, () => {
      expect(findmntUnder(mounted)).toEqual([mounted]);
      expect(readFileSync(join(mounted, 'keep'), 'utf8')).toBe('data on the mount');
    });
    writeFileSync(join(dir, 'a-file'), 'x');
    await refused(['--output', out, '--work', join(dir, 'a-file')], 2, /^error: the work directory .*a-file is not a directory$/);
    await refused(['--output', join(dir, 'a-file'), '--work', join(dir, 'work-args')], 2, /^error: the output directory .*a-file is not a directory$/);
    const ro = tmpfs('read-only', 'ro,size=1m');
    await refused(['--output', out, '--work', join(ro, 'work')], 2, /^error: the work directory .*read-only\/work is on a read-only file system \(EROFS\)$/);
    await refused(['--output', join(ro, 'release'), '--work', join(dir, 'work-args')], 2, /^error: the output directory .*read-only\/release is on a read-only file system \(EROFS\)$/);
    const long = writeProfile(dir, 'long-name', { ...readProfileDoc(mainProfile), output: { name: `${'n'.repeat(260)}.iso` } });
    await hostileCase(() => {
      const res = build(['--profile', long, '--output', out, '--work', join(dir, 'work-args')]);
      expectOneLineError(res, 2, /^error: (the output file name n+\.\.\. is 264 bytes long|.*output\.name)/);
      expect(isoFiles(out)).toEqual([]);
    });
  });
});

/** The profile document a case wrote (to derive another from it). */
function readProfileDoc(file: string): ProfileDocument {
  return parseYaml(readFileSync(file, 'utf8')) as ProfileDocument;
}
