/**
 * Issue 12's acceptance on the Ubuntu look-alike fixtures (scripts/make-fixture-ubuntu): for the 22.04-like (jammy) and
 * the 24.04-like (noble) layout, with `repack` and with `layer`, the remastered ISO's live session still reaches the
 * installer (BIOS and UEFI), `iso-build boot --install` installs it to a blank disk, and the installed disk has the
 * built VERSION, build-info.json, the payload and the overlay files, the autoinstall late-command's file, and none of
 * the installer layers' files. A deliberately wrong remaster (changes put into the installer layer) fails the same
 * checks with exit 3. Each ISO is built once and reused by its boots.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, REPO, runCli, tempDir } from '../support/cli.js';
import { parse } from 'yaml';
import { HelmChartSchema } from '../support/helmchart-schema.js';
import { replayedRoot } from '../support/installed-disk.js';
import { needs, requireRoot, requireTools } from '../support/needs.js';

const VERSION = 'v1.0.0';
type UbuntuVariant = 'jammy' | 'noble';
const BOOT_TIMEOUT = '300';
const INSTALL_TIMEOUT = '600';

function ubuntuFixture(variant: UbuntuVariant): { iso: string; sha256: string } {
  const iso = join(FIXTURES, `fixture-${variant}.iso`);
  if (!existsSync(iso)) execFileSync(join(REPO, 'scripts/make-fixture-iso'), ['--variant', variant], { cwd: REPO, stdio: 'inherit' });
  const sums = readFileSync(join(FIXTURES, 'SHA256SUMS'), 'utf8');
  const sha256 = new RegExp(`^([0-9a-f]{64})  fixture-${variant}\\.iso$`, 'm').exec(sums)?.[1];
  if (!sha256) throw new Error(`fixture-${variant}.iso is not in ${FIXTURES}/SHA256SUMS`);
  return { iso, sha256 };
}

/** The checks that prove the profile reached the installed system and the installer did not. */
const INSTALLED_CHECKS = [
  '--expect-file', `/opt/novasphere/VERSION=${VERSION}`,
  '--expect-file', '/opt/novasphere/build-info.json',
  '--expect-file', '/opt/novasphere/packages/system',
  '--expect-file', '/etc/novasphere/overlay-marker',
  '--expect-file', '/etc/novasphere/chroot-proof',
  '--expect-file', '/etc/novasphere-installed=installed',
  '--expect-file', '/etc/fixture-layer=ubuntu-server-minimal.ubuntu-server',
  '--expect-absent', '/usr/lib/fixture-installer',
  '--expect-absent', '/etc/fixture-installer-only',
  '--expect-absent', '/etc/fixture-boot.d/zz-subiquity',
  '--expect-absent', '/etc/fixture-kernel-flavour',
];

interface Build {
  dir: string;
  iso: string;
  code: number | null;
  output: string;
}

function build(variant: UbuntuVariant, name: string, profileExtra: string): Build {
  const { iso: base, sha256 } = ubuntuFixture(variant);
  const dir = tempDir(`e2e-${variant}-${name}`);
  // The profile's relative paths (templates, ../overlay, ../test/fixtures) resolve from a copy of profiles/ with links
  // to the rest, so a variant profile can sit beside the one it extends.
  cpSync(join(REPO, 'profiles'), join(dir, 'profiles'), { recursive: true });
  for (const d of ['overlay', 'test']) symlinkSync(join(REPO, d), join(dir, d));
  const profile = join(dir, 'profiles', `e2e-${name}.yaml`);
  writeFileSync(profile, `extends: fixture.yaml\n${profileExtra}`);
  const res = runCli([VERSION, '--profile', profile, '--base', base, '--base-sha256', sha256,
    '--output', join(dir, 'release'), '--work', join(dir, 'work')]);
  return { dir, iso: join(dir, 'release', `novasphere-fixture-${VERSION}.iso`), code: res.code, output: res.stdout + res.stderr };
}

/** `paths` of an ISO extracted with xorriso into a fresh directory. */
function extractFromIso(iso: string, dest: string, paths: string[]): string {
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, ...paths.flatMap((p) => ['-extract', p, join(dest, p)])], { stdio: 'ignore' });
  return dest;
}

/** conf/uuid.conf of a gzip'd cpio initrd (the fixtures' form), read with cpio. */
function initrdUuid(initrd: string): string {
  return execFileSync('cpio', ['-i', '--quiet', '--to-stdout', 'conf/uuid.conf'], { input: gunzipSync(readFileSync(initrd)) }).toString('utf8').trim();
}

/** A squashfs's own content bytes as the kernel shows it: mounted alone, its non-directories summed (whiteouts are 0). */
function squashfsContentBytes(image: string, at: string): number {
  mkdirSync(at, { recursive: true });
  execFileSync('mount', ['-t', 'squashfs', '-o', 'ro,loop', image, at]);
  try {
    const sizes = execFileSync('find', [at, '!', '-type', 'd', '-printf', '%s\\n']).toString('utf8');
    return sizes.split('\n').filter(Boolean).reduce((sum, n) => sum + Number(n), 0);
  } finally {
    execFileSync('umount', [at]);
  }
}

interface InstallJson {
  ok: boolean;
  installs: { firmware: string; ok: boolean; checks: { check: string; ok: boolean; detail: string }[]; problem?: string }[];
}

const CASES: { variant: UbuntuVariant; strategy: 'layer' | 'repack'; installFirmware: 'bios' | 'uefi'; bringup?: true }[] = [
  // bringup: the installed system is booted too (no network), and fixture.yaml's k3s bring-up is checked on the disk
  { variant: 'jammy', strategy: 'layer', installFirmware: 'bios', bringup: true },
  { variant: 'jammy', strategy: 'repack', installFirmware: 'uefi' },
  { variant: 'noble', strategy: 'layer', installFirmware: 'uefi' },
  { variant: 'noble', strategy: 'repack', installFirmware: 'bios' },
];

const NEEDS = needs(requireRoot('builds mount images; the fixtures are made with debootstrap'), requireTools('qemu-system-x86_64', 'debugfs', 'xorriso'));

describe.each(CASES)('fixture-$variant, $strategy', NEEDS, ({ variant, strategy, installFirmware, bringup }) => {
  let b: Build;
  beforeAll(() => {
    b = build(variant, strategy, `rootfs:\n  strategy: ${strategy}\n`);
  }, 600_000);
  afterAll(() => rmSync(b.dir, { recursive: true, force: true }));

  it('builds', () => {
    expect(b.code, b.output).toBe(0);
    // These installs are the in-place writer's (both strategies: the fixture's replaced layer is small), booted and
    // installed BIOS and UEFI; build-and-boot.test.ts boots xorriso's.
    expect(readFileSync(join(b.dir, 'work', 'build.log'), 'utf8')).toMatch(/^write: in place over the base ISO/m);
  });

  it('the medium matches its initrds (.disk/casper-uuid-*), and the changed layer\'s .size is its own content', () => {
    const tree = extractFromIso(b.iso, join(b.dir, 'medium'), ['/.disk', '/casper']);
    // casper accepts the medium only if the initrd's conf/uuid.conf equals one of .disk/casper-uuid-* (ubuntu-facts.md)
    const uuids = readdirSync(join(tree, '.disk')).filter((f) => f.startsWith('casper-uuid-')).map((f) => readFileSync(join(tree, '.disk', f), 'utf8').trim());
    const initrds = readdirSync(join(tree, 'casper')).filter((f) => /^(hwe-)?initrd$/.test(f));
    expect(initrds).toContain('initrd');
    for (const initrd of initrds) expect(uuids, initrd).toContain(initrdUuid(join(tree, 'casper', initrd)));
    const base = extractFromIso(ubuntuFixture(variant).iso, join(b.dir, 'base-medium'), ['/.disk']);
    for (const f of readdirSync(join(base, '.disk')).filter((n) => n.startsWith('casper-uuid-'))) {
      expect(readFileSync(join(tree, '.disk', f), 'utf8'), f).toBe(readFileSync(join(base, '.disk', f), 'utf8'));
    }
    const sources = parse(readFileSync(join(tree, 'casper/install-sources.yaml'), 'utf8')) as { path: string; default?: boolean }[];
    const changed = sources.find((x) => x.default)!.path;
    if (strategy === 'layer') expect(changed).not.toBe('ubuntu-server-minimal.ubuntu-server.squashfs');
    const size = readFileSync(join(tree, 'casper', changed.replace(/\.squashfs$/, '.size')), 'utf8');
    expect(size).toBe(`${squashfsContentBytes(join(tree, 'casper', changed), join(b.dir, 'size-mnt'))}\n`);
  });

  it.each(['bios', 'uefi'])('the live session reaches the installer with %s (whole installer chain mounted)', (firmware) => {
    const log = join(b.dir, `live-${firmware}.log`);
    const res = runCli(['boot', b.iso, '--firmware', firmware, '--expect', 'INSTALLER-START', '--timeout', BOOT_TIMEOUT, '--log', log]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    const serial = readFileSync(log, 'utf8');
    const stack = /CASPER-LAYERS: (.*)/.exec(serial)?.[1]?.split(' ') ?? [];
    expect(stack.at(-1)).toBe('ubuntu-server-minimal.ubuntu-server.installer.generic.squashfs');
    expect(stack).toHaveLength(4);
  }, 400_000);

  it(`installs (${installFirmware}): VERSION, payload and overlay on the disk, no installer files`, () => {
    const log = join(b.dir, `install-${installFirmware}.log`);
    const res = runCli(['boot', b.iso, '--install', '--json', '--firmware', installFirmware, '--disk-size', '1G',
      '--timeout', INSTALL_TIMEOUT, '--log', log, ...INSTALLED_CHECKS,
      ...(bringup ? ['--keep-disk', '--installed-expect', 'NOVASPHERE-PAYLOAD: '] : [])]);
    const report = JSON.parse(res.stdout) as InstallJson;
    expect(report.installs[0]!.checks.filter((c) => !c.ok), res.stderr).toEqual([]);
    expect(res.code, res.stderr).toBe(0);
    expect(report.ok).toBe(true);
    const serial = readFileSync(log, 'utf8');
    expect(serial).toMatch(/INSTALLER-SOURCE: ubuntu-server \(fsimage-layered\) chain: .*ubuntu-server-minimal\.ubuntu-server/);
    expect(serial).not.toMatch(/INSTALLER-SOURCE: .*installer/);
    expect(serial).toContain('INSTALLER-DONE');
  }, 700_000);

  // Only the bring-up case defines this test, so the other cases report no skipped tests.
  if (bringup) it('the installed system brings up the k3s payload offline at first boot (fixture.yaml)', async () => {
    const serial = readFileSync(join(b.dir, `install-${installFirmware}.installed.log`), 'utf8');
    expect(serial).toMatch(/^NOVASPHERE-PAYLOAD: ok\r?$/m);
    expect(serial).toMatch(/bringup: k3s: installed \/usr\/local\/bin\/k3s/);
    expect(serial).toMatch(/bringup: chart: \/var\/lib\/rancher\/k3s\/server\/manifests\/chart-hello\.yaml in place/);
    const fs = await replayedRoot(join(b.dir, `install-${installFirmware}.disk.img`), join(b.dir, 'root-snapshot.img'));
    const read = (p: string): Promise<Buffer> => fs.readFile(p);
    const sha = (x: Buffer): string => createHash('sha256').update(x).digest('hex');
    // k3s is not in Debian: its stand-ins show the files went in place and how the install script was called
    expect(await read('/usr/local/bin/k3s')).toEqual(readFileSync(join(REPO, 'test/fixtures/bringup/k3s')));
    const env = (await read('/var/log/novasphere/k3s-install.env')).toString();
    expect(env).toMatch(/^INSTALL_K3S_SKIP_DOWNLOAD=true$/m);
    expect(env).toMatch(/^INSTALL_K3S_SKIP_SELINUX_RPM=true$/m);
    expect(env).toMatch(/^INSTALL_K3S_EXEC=server --disable traefik$/m);
    // the image archive where k3s imports it at start, byte for byte
    expect(sha(await read('/var/lib/rancher/k3s/agent/images/hello-image-oci.tar'))).toBe(sha(readFileSync(join(REPO, 'test/fixtures/packages/hello-image-oci.tar'))));
    // the HelmChart manifest matches helm-controller's CRD, and its chartContent is the exact chart .tgz
    const manifest = HelmChartSchema.parse(parse((await read('/var/lib/rancher/k3s/server/manifests/chart-hello.yaml')).toString()));
    expect(manifest.metadata).toMatchObject({ name: 'hello', namespace: 'kube-system' });
    expect(manifest.spec).toMatchObject({ chart: 'hello', version: '0.1.0', targetNamespace: 'hello-system', createNamespace: true });
    expect(sha(Buffer.from(manifest.spec.chartContent!, 'base64'))).toBe(sha(readFileSync(join(REPO, 'test/fixtures/packages/hello-chart-0.1.0.tgz'))));
    expect(parse(manifest.spec.valuesContent!)).toEqual({ greeting: 'offline' });
    expect((await read('/var/lib/novasphere/bringup.state')).toString()).toMatch(/^version=v1\.0\.0\ndone system\ndone k3s-binary\ndone k3s-install\ndone image:1:[^\n]+\ndone charts\n$/);
  }, 120_000);
});

describe('a wrong remaster: changes in the installer layer', NEEDS, () => {
  let b: Build;
  beforeAll(() => {
    b = build('noble', 'wrong', 'base:\n  rootfsLayer: ubuntu-server-minimal.ubuntu-server.installer.squashfs\nrootfs:\n  strategy: layer\n');
  }, 600_000);
  afterAll(() => rmSync(b.dir, { recursive: true, force: true }));

  it('builds, installs, and the installed-disk checks fail with exit 3', () => {
    expect(b.code, b.output).toBe(0);
    const res = runCli(['boot', b.iso, '--install', '--json', '--firmware', 'bios', '--disk-size', '1G',
      '--timeout', INSTALL_TIMEOUT, '--log', join(b.dir, 'install.log'), ...INSTALLED_CHECKS]);
    expect(res.code, res.stderr).toBe(3);
    const report = JSON.parse(res.stdout) as InstallJson;
    const failed = report.installs[0]!.checks.filter((c) => !c.ok).map((c) => c.check);
    expect(failed).toEqual(expect.arrayContaining([`/opt/novasphere/VERSION = "${VERSION}"`, '/etc/novasphere/overlay-marker exists']));
  }, 900_000);
});
