/**
 * The whole promise: build v1.0.0 from each fixture variant, boot the result in qemu with BIOS and with UEFI,
 * and read from the serial console: `NOVASPHERE-VERSION: v1.0.0`, the overlay, chroot and offline-payload proofs,
 * and the autoinstall arguments of the default boot entry.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, fixtureIso, fixtureSha, runCli, tempDir, type Variant } from '../support/cli.js';
import { needs, requireFixtures, requireRoot, requireTools } from '../support/needs.js';

const VERSION = 'v1.0.0';
/**
 * profiles/fixture.yaml packs zstd, so its single and live builds unpack the base's xz rootfs and compress it again;
 * the `merged` cases extend it with the base's own xz, so the changes are merged into the base squashfs instead.
 */
const CASES: { name: string; variant: Variant; merged: boolean }[] = [
  { name: 'single', variant: 'single', merged: false },
  { name: 'layered', variant: 'layered', merged: false },
  { name: 'live', variant: 'live', merged: false },
  { name: 'single, merged into the base squashfs', variant: 'single', merged: true },
  { name: 'live, merged into the base squashfs', variant: 'live', merged: true },
];

describe.each(CASES)('fixture-$name: build, then boot BIOS and UEFI', needs(requireRoot(), requireFixtures(), requireTools('qemu-system-x86_64')), ({ variant, merged }) => {
  let dir: string;
  let iso: string;
  let build: ReturnType<typeof runCli>;

  beforeAll(() => {
    dir = tempDir(`e2e-${variant}${merged ? '-merged' : ''}`);
    const profile = join(dir, 'merged.yaml');
    if (merged) writeFileSync(profile, `extends: ${join(REPO, 'profiles/fixture.yaml')}\nrootfs:\n  compression: xz\n`);
    build = runCli([
      VERSION, '--profile', merged ? profile : 'profiles/fixture.yaml',
      '--base', fixtureIso(variant), '--base-sha256', fixtureSha(variant),
      '--output', join(dir, 'release'), '--work', join(dir, 'work'),
    ]);
    iso = join(dir, 'release', `novasphere-fixture-${VERSION}.iso`);
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds', () => {
    expect(build.stderr).not.toMatch(/^(error|internal error)/m);
    expect(build.code).toBe(0);
    expect(existsSync(iso)).toBe(true);
    const log = readFileSync(join(dir, 'work', 'build.log'), 'utf8');
    if (variant !== 'layered') expect(/^rootfs: \S+ is packed like this build packs/m.test(log)).toBe(merged);
    // Both ISO writers boot: a new layer is written in place over the base, and so is a squashfs merged into the
    // base's (its leading blocks stay in the base's extent, the rest is a second extent: ISO 9660 level 3, read by the
    // booted kernel's isofs); a rootfs squashfs packed anew (which would leave its old bytes as dead space) goes
    // through xorriso, and the log says why.
    if (variant === 'layered') expect(log).toMatch(/^write: in place over the base ISO/m);
    else if (merged) expect(log).toMatch(/^write: in place over the base ISO[^\n]*\nwrite: \/(casper|live)\/filesystem\.squashfs keeps its first \d+ bytes where the base has them/m);
    else expect(log).toMatch(/^write: xorriso modify mode over the base ISO \(the in-place writer cannot: the replaced files would stay/m);
  });

  it.each(['bios', 'uefi'])('boots with %s and prints the new VERSION', (firmware) => {
    const log = join(dir, `serial-${firmware}.log`);
    // Wait for the end of the boot hooks (the payload install runs in one), then read the whole console.
    const res = runCli(['boot', iso, '--firmware', firmware, '--expect', 'FIXTURE-DONE', '--timeout', '300', '--log', log]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    const serial = readFileSync(log, 'utf8');
    expect(serial).toContain(`NOVASPHERE-VERSION: ${VERSION}`);
    // the profile's autoinstall entry is the new default: its arguments sit before the `---` (issue #4)
    const cmdline = /FIXTURE-CMDLINE: (.*)/.exec(serial)?.[1] ?? '';
    expect(cmdline.split(/\s+/)).toEqual(expect.arrayContaining(['autoinstall', 'ds=nocloud;s=/cdrom/nocloud/', 'iso-build.profile=novasphere-fixture']));
    expect(cmdline).toMatch(/autoinstall ds=nocloud;s=\/cdrom\/nocloud\/ .*---/);
    expect(serial).toContain('OVERLAY-CHECK: overlay-applied mode=755 owner=root:root');
    expect(serial).toMatch(/CHROOT-CHECK: chroot ran on Debian 12/);
    // the offline payload installed from the embedded, signed apt repository in the booted system, and the package runs
    expect(serial).toMatch(/PACKAGE-CHECK: novasphere-hello-offline \S+ \(jq-1\.6\) jq=1\.6/);
    if (variant === 'layered') expect(serial).toMatch(/FIXTURE-LAYERS: .*fixture-minimal\.squashfs .*fixture-minimal\.fixture-server\.squashfs .*fixture-minimal\.fixture-server\.novasphere-fixture\.squashfs/);
  }, 300_000);
});
