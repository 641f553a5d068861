/** `iso-build inspect`: the report on the fixture layouts, --json, --cat/--ls as a non-root user, md5sum.txt problems, bad input. */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO, fixtureIso, runCli, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot, requireTools } from '../support/needs.js';
import { mksquashfs } from '../support/squashfs.js';

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');

describe('iso-build inspect', needs(requireTools('mksquashfs', 'xorriso')), () => {
  let dir: string;
  let iso: string;
  beforeAll(() => {
    // A small casper ISO whose rootfs carries the product files a build writes.
    dir = tempDir('inspect');
    chmodSync(dir, 0o755); // readable by the unprivileged user below
    const root = join(dir, 'rootfs');
    mkdirSync(join(root, 'opt/novasphere'), { recursive: true });
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'opt/novasphere/VERSION'), 'v9.8.7\n');
    writeFileSync(join(root, 'opt/novasphere/build-info.json'), JSON.stringify({ version: 'v9.8.7', profile: 'fixture', commit: 'abc123' }));
    writeFileSync(join(root, 'etc/hostname'), 'appliance\n');
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'casper'), { recursive: true });
    mksquashfs(root, join(tree, 'casper/filesystem.squashfs'), ['-comp', 'zstd']);
    writeFileSync(join(tree, 'casper/filesystem.size'), '123\n');
    const sq = readFileSync(join(tree, 'casper/filesystem.squashfs'));
    writeFileSync(join(tree, 'md5sum.txt'), `${md5('123\n')}  ./casper/filesystem.size\n${md5(sq)}  ./casper/filesystem.squashfs\n`);
    iso = join(dir, 'appliance.iso');
    execFileSync('xorriso', ['-as', 'mkisofs', '-r', '-J', '-V', 'APPLIANCE', '-o', iso, tree], { stdio: 'ignore' });
    chmodSync(iso, 0o644);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reports layout, layers, VERSION, build-info.json and md5sum.txt', () => {
    const res = runCli(['inspect', iso]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^volume: +APPLIANCE$/m);
    expect(res.stdout).toMatch(/^layout: +casper/m);
    expect(res.stdout).toMatch(/\/casper\/filesystem\.squashfs +zstd .* \[rootfs\]/);
    expect(res.stdout).toMatch(/VERSION +v9\.8\.7/);
    expect(res.stdout).toMatch(/build-info\.json +version=v9\.8\.7 profile=fixture commit=abc123/);
    expect(res.stdout).toMatch(/^md5sum\.txt: +OK \(2 files\)$/m);
  });

  it('--json for machines', () => {
    const res = runCli(['inspect', iso, '--json']);
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout) as { layout: string; volumeLabel: string; layers: { path: string; compressor: string; version?: string; buildInfo?: { commit: string } }[]; md5sum: { ok: number; problems: unknown[] } };
    expect(report.layout).toBe('casper');
    expect(report.volumeLabel).toBe('APPLIANCE');
    expect(report.layers).toEqual([expect.objectContaining({ path: '/casper/filesystem.squashfs', compressor: 'zstd', version: 'v9.8.7', buildInfo: expect.objectContaining({ commit: 'abc123' }) })]);
    expect(report.md5sum).toMatchObject({ ok: 2, problems: [] });
  });

  it('--json names GPT partition types by their GUID text form', () => {
    // An appended ESP as xorriso writes it for a UEFI-bootable Ubuntu ISO (-append_partition ... -appended_part_as_gpt).
    const esp = join(dir, 'esp.img');
    writeFileSync(esp, Buffer.alloc(64 * 1024));
    const gptIso = join(dir, 'gpt.iso');
    const ESP = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
    execFileSync('xorriso', ['-as', 'mkisofs', '-r', '-V', 'GPT', '-o', gptIso, '-append_partition', '2', ESP, esp, '-appended_part_as_gpt', join(dir, 'tree')], { stdio: 'ignore' });
    const res = runCli(['inspect', gptIso, '--json', '--no-md5']);
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout) as { boot: { gpt: boolean; gptPartitions: { index: number; type: string }[]; summary: string } };
    expect(report.boot.gpt).toBe(true);
    expect(report.boot.gptPartitions).toContainEqual(expect.objectContaining({ index: 2, type: ESP }));
    expect(report.boot.summary).toMatch(/GPT EFI system partition 2/);
  });

  it('--cat and --ls work as an unprivileged user (no root, no mounts)', needs(requireRoot('switches to user nobody with setpriv')), () => {
    const asNobody = (args: string[]) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'node', CLI, 'inspect', iso, ...args], { cwd: REPO, encoding: 'utf8' });
    const cat = asNobody(['--cat', '/opt/novasphere/VERSION']);
    expect(cat.stderr).toBe('');
    expect(cat.stdout).toBe('v9.8.7\n');
    const ls = asNobody(['--ls', '/opt']);
    expect(ls.stdout.split('\n').filter(Boolean).map((l) => l.split(' ').pop())).toEqual(['/opt', '/opt/novasphere', '/opt/novasphere/VERSION', '/opt/novasphere/build-info.json']);
  });

  it('md5sum.txt mismatches exit 3 and name the file', () => {
    const bad = join(dir, 'bad-md5.iso');
    const tree = join(dir, 'tree');
    writeFileSync(join(tree, 'md5sum.txt'), `${'0'.repeat(32)}  ./casper/filesystem.size\n${'1'.repeat(32)}  ./casper/missing\n`);
    execFileSync('xorriso', ['-as', 'mkisofs', '-r', '-J', '-o', bad, tree], { stdio: 'ignore' });
    const res = runCli(['inspect', bad]);
    expect(res.code).toBe(3);
    expect(res.stdout).toMatch(/md5sum\.txt: +2 PROBLEM\(S\) in 2 lines/);
    expect(res.stdout).toMatch(/mismatch for \.\/casper\/filesystem\.size: listed 0{32}, ISO has [0-9a-f]{32}/);
    expect(res.stdout).toMatch(/lists \.\/casper\/missing, which is not in the ISO/);
    expect(runCli(['inspect', bad, '--no-md5']).code).toBe(0);
  });

  it('bad input: one error line, a hint, exit 2', () => {
    const notIso = join(dir, 'not.iso');
    writeFileSync(notIso, Buffer.alloc(40000, 1));
    const cases: [string[], RegExp][] = [
      [['inspect', join(dir, 'nope.iso')], /^error: cannot open .*nope\.iso: no such file$/m],
      [['inspect', notIso], /^error: .*not\.iso is not an ISO 9660 image/m],
      [['inspect', iso, '--cat', '/etc/nothing'], /^error: no such file in the rootfs: \/etc\/nothing$/m],
      [['inspect', iso, '--cat', '/etc'], /^error: \/etc in the rootfs is a dir, not a regular file$/m],
      [['inspect', iso, '--layer', 'casper/other.squashfs'], /^error: --layer casper\/other\.squashfs is not a squashfs on the ISO$/m],
    ];
    for (const [args, message] of cases) {
      const res = runCli(args);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr).toMatch(message);
      expect(res.stderr).not.toMatch(/^\s+at /m);
    }
    const truncated = join(dir, 'truncated.iso');
    writeFileSync(truncated, readFileSync(iso).subarray(0, 40 * 2048));
    const res = runCli(['inspect', truncated]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^error: .*truncated\.iso: ISO 9660 primary volume descriptor is broken: the volume has \d+ bytes but the file only 81920 \(truncated download\?\)\nhint: the image is truncated or corrupt/);
  });

  describe('on the fixture ISOs', needs(requireFixtures()), () => {
    it('names each layout and its rootfs stack; md5sum.txt is OK', () => {
      const expected = {
        single: [/layout: +casper/, /rootfs: +\/casper\/filesystem\.squashfs$/m],
        layered: [/layout: +layered casper/, /rootfs: +\/casper\/fixture-minimal\.fixture-server\.squashfs over \/casper\/fixture-minimal\.squashfs \(install source fixture-server\)/],
        live: [/layout: +Debian live/, /rootfs: +\/live\/filesystem\.squashfs$/m],
      } as const;
      for (const [variant, patterns] of Object.entries(expected)) {
        const res = runCli(['inspect', fixtureIso(variant as keyof typeof expected)]);
        expect(res.code, res.stderr).toBe(0);
        for (const p of patterns) expect(res.stdout).toMatch(p);
        expect(res.stdout).toMatch(/^boot: +BIOS .*UEFI /m);
        expect(res.stdout).toMatch(/^md5sum\.txt: +OK/m);
      }
    });

    it('--ls on a layered ISO shows the upper layer over the lower one', () => {
      const res = runCli(['inspect', fixtureIso('layered'), '--ls', '/etc']);
      expect(res.code).toBe(0);
      const paths = res.stdout.split('\n').filter(Boolean).map((l) => l.split(' -> ')[0]!.split(' ').pop());
      expect(paths).toContain('/etc/hostname');
      expect(paths).toContain('/etc/passwd');
      expect(new Set(paths).size).toBe(paths.length);
    });
  });
});
