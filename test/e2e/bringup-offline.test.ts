/**
 * Issue 15 item 2: the first-boot bring-up on a really installed disk, offline. The 22.04-like fixture ISO is built
 * from profiles/fixture.yaml made a containerd profile (no bringup.k3s; k3s is not in Debian, its path is covered by
 * ubuntu-install.test.ts on fixture.yaml itself), with Debian's containerd and its closure in the payload's signed
 * repository and a plain and a zstd image archive. `iso-build boot --install` installs it to a blank disk; the installed
 * system is then booted by qemu with no network device (the fixture has no systemd: its systemctl stand-in in
 * overlay/fixture starts the enabled units, the bring-up's with its Condition* lines):
 *   1. the first boot is powered off (qemu killed) when the bring-up starts importing the first image;
 *   2. the next boot completes it: apt installed jq and containerd from the embedded repository, containerd (started
 *      by its package's postinst through systemctl) imported both archives, and what `ctr images ls` listed is in
 *      /var/log/novasphere/images.txt; the serial marker unit prints the version after the bring-up succeeded;
 *   3. one more boot says "nothing to do" and changes neither the state, the packages nor the images.
 * Everything is read back from the disk image with debugfs (no mount). One install, three boots of its disk.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootInstalledDisk } from '../../src/install-qa/install.js';
import { ExtImage } from '../../src/tools/debugfs.js';
import { imageArchive } from '../integration/bringup-helpers.js';
import { FIXTURES, REPO, runCli, tempDir } from '../support/cli.js';
import { replayedRoot } from '../support/installed-disk.js';
import { needs, requireRoot, requireTools } from '../support/needs.js';

const VERSION = 'v1.0.0';
const PLAIN_REF = 'registry.novasphere.invalid/test/hello:1.0';
const ZST_REF = 'registry.novasphere.invalid/test/hello-zst:1.0';
const TIMEOUT_SEC = 300;

function jammyFixture(): { iso: string; sha256: string } {
  const iso = join(FIXTURES, 'fixture-jammy.iso');
  const sha256 = new RegExp('^([0-9a-f]{64})  fixture-jammy\\.iso$', 'm').exec(readFileSync(join(FIXTURES, 'SHA256SUMS'), 'utf8'))?.[1];
  if (!existsSync(iso) || !sha256) throw new Error(`fixture-jammy.iso is not in ${FIXTURES} (scripts/make-fixture-iso --variant jammy)`);
  return { iso, sha256 };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('bring-up on the installed fixture disk, offline (containerd)', needs(requireRoot(), requireTools('qemu-system-x86_64', 'debugfs', 'e2fsck', 'xorriso', 'zstd')), () => {
  let dir: string;
  let iso: string;
  let disk: string;
  let buildOutput = '';
  let buildCode: number | null = null;
  // a journal-replayed copy of the root partition (test/support/installed-disk.ts), taken again after each boot
  let snapshot: ExtImage | undefined;
  const disk$ = async (): Promise<ExtImage> => (snapshot ??= await replayedRoot(disk, join(dir, 'root-snapshot.img')));
  const text = async (path: string): Promise<string> => (await (await disk$()).readFile(path)).toString('utf8');
  const boot = async (name: string, expect: RegExp, waitPoweroff: boolean): Promise<{ exit?: string; serial: string }> => {
    const logPath = join(dir, `${name}.log`);
    const r = await bootInstalledDisk({ diskPath: disk, accel: 'tcg', timeoutSec: TIMEOUT_SEC, logPath, expect, waitPoweroff });
    if (r.error) throw new Error(r.error);
    snapshot = undefined; // the disk changed
    return { ...(r.result?.exit ? { exit: r.result.exit } : {}), serial: readFileSync(logPath, 'utf8') };
  };

  beforeAll(() => {
    const base = jammyFixture();
    dir = tempDir('e2e-bringup');
    cpSync(join(REPO, 'profiles'), join(dir, 'profiles'), { recursive: true });
    for (const d of ['overlay', 'test']) symlinkSync(join(REPO, d), join(dir, d));
    // fixture.yaml as a containerd profile: no k3s (and so no charts), containerd from Debian in the payload.
    const doc = parse(readFileSync(join(dir, 'profiles/fixture.yaml'), 'utf8')) as {
      packages: { system: string[]; images: { archive: string; reference: string }[] };
      bringup: Record<string, unknown>;
    };
    doc.packages.system = ['jq', 'containerd', 'zstd']; // zstd: ctr is handed plain tars (the build checks it is there)
    doc.packages.images.push({ archive: imageArchive(dir, 'hello-zst', ZST_REF, 'zstd'), reference: ZST_REF });
    delete doc.bringup['k3s'];
    delete doc.bringup['charts'];
    doc.bringup['runtime'] = 'containerd';
    const profile = join(dir, 'profiles/e2e-bringup.yaml');
    writeFileSync(profile, stringify(doc, { lineWidth: 0 }));
    const res = runCli([VERSION, '--profile', profile, '--base', base.iso, '--base-sha256', base.sha256,
      '--output', join(dir, 'release'), '--work', join(dir, 'work')]);
    buildCode = res.code;
    buildOutput = res.stdout + res.stderr;
    iso = join(dir, 'release', `novasphere-fixture-${VERSION}.iso`);
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds', () => {
    expect(buildCode, buildOutput).toBe(0);
    expect(buildOutput).toMatch(/First-boot bring-up: novasphere-bringup\.service, 2 images/);
  });

  it('installs, and the first boot starts the bring-up; a power-off in the middle of the first image import', () => {
    const log = join(dir, 'install.log');
    const res = runCli(['boot', iso, '--install', '--keep-disk', '--json', '--firmware', 'bios', '--disk-size', '1G', '--accel', 'tcg',
      '--timeout', '600', '--log', log, '--installed-expect', 'bringup: image .*: importing',
      '--expect-file', '/usr/lib/systemd/system/novasphere-bringup.service', '--expect-file', `/opt/novasphere/VERSION=${VERSION}`]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    disk = join(dir, 'install.disk.img');
    expect(existsSync(disk)).toBe(true);
    const serial = readFileSync(join(dir, 'install.installed.log'), 'utf8');
    expect(serial).toMatch(/bringup: bringing up NovaSphere Fixture v1\.0\.0 offline/);
    expect(serial).toMatch(/bringup: system packages: installed jq containerd zstd/);
    expect(serial).not.toMatch(/NOVASPHERE-PAYLOAD/); // killed before the end
  }, 900_000);

  let afterSecond: Record<string, string> = {};
  it('the next boot completes: packages from the embedded repository, every image imported into containerd', async () => {
    const state0 = await text('/var/lib/novasphere/bringup.state');
    expect(state0).toMatch(/^done system$/m);
    expect(state0).not.toMatch(/^done image:2:/m); // the second import had not started
    const { exit, serial } = await boot('boot-2', /NOVASPHERE-PAYLOAD: /, true);
    expect(exit, serial.slice(-3000)).toBe('matched');
    expect(serial).toMatch(/^NOVASPHERE-PAYLOAD: ok\r?$/m);
    // the state the power cut left: the system step recorded, the second image not
    expect(serial).toMatch(/bringup: system: done in an earlier run/);
    expect(serial).not.toMatch(/bringup: image:2:[^ ]*: done in an earlier run/);
    expect(serial).toMatch(new RegExp(`image ${ZST_REF.replace(/[.]/g, '\\.')}: imported into containerd`));
    // the serial marker unit (Requires= the bring-up) runs after it succeeded
    expect(serial.slice(serial.indexOf('NOVASPHERE-PAYLOAD: ok'))).toMatch(/NOVASPHERE-VERSION: v1\.0\.0/);
    const status = await text('/var/lib/dpkg/status');
    for (const p of ['jq', 'containerd', 'runc', 'zstd']) expect(status).toMatch(new RegExp(`^Package: ${p}\\n(?:.+\\n)*?Status: install ok installed$`, 'm'));
    const listed = (await text('/var/log/novasphere/images.txt')).split('\n').filter(Boolean);
    expect(listed).toEqual(expect.arrayContaining([PLAIN_REF, ZST_REF]));
    const state = await text('/var/lib/novasphere/bringup.state');
    expect(state).toMatch(/^version=v1\.0\.0\ndone system\ndone image:1:[^\n]+\ndone image:2:[^\n]+\n$/);
    afterSecond = { state, status, images: listed.join('\n') };
  }, 400_000);

  it('a further boot has nothing to do and changes nothing', async () => {
    expect(afterSecond['state']).toBeDefined();
    const { exit, serial } = await boot('boot-3', /NOVASPHERE-PAYLOAD: /, true);
    expect(exit, serial.slice(-3000)).toBe('matched');
    expect(serial).toMatch(/bringup: nothing to do: NovaSphere Fixture v1\.0\.0 is brought up/);
    expect(serial).toMatch(/^NOVASPHERE-PAYLOAD: ok\r?$/m);
    expect(await text('/var/lib/novasphere/bringup.state')).toBe(afterSecond['state']);
    expect(sha(Buffer.from(await text('/var/lib/dpkg/status')))).toBe(sha(Buffer.from(afterSecond['status']!)));
    expect((await text('/var/log/novasphere/images.txt')).split('\n').filter(Boolean).join('\n')).toBe(afterSecond['images']);
  }, 400_000);
});
