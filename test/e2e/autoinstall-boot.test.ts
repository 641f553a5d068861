/**
 * The new default boot entry really is the autoinstall one: build the fixture, boot it (BIOS, TCG) and read the
 * kernel command line the fixture's PID 1 prints (`FIXTURE-CMDLINE: <contents of /proc/cmdline>`).
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IS_ROOT, fixtureIso, fixtureSha, runCli, tempDir } from '../support/cli.js';

const VERSION = 'v1.0.0';

describe.skipIf(!IS_ROOT)('fixture-single with autoinstall: the default boot entry', () => {
  let dir: string;
  let iso: string;
  let build: ReturnType<typeof runCli>;

  beforeAll(() => {
    dir = tempDir('e2e-autoinstall');
    build = runCli([
      VERSION, '--profile', 'profiles/fixture.yaml',
      '--base', fixtureIso('single'), '--base-sha256', fixtureSha('single'),
      '--output', join(dir, 'release'), '--work', join(dir, 'work'),
    ]);
    iso = join(dir, 'release', `novasphere-fixture-${VERSION}.iso`);
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds', () => {
    expect(build.stderr).toBe('');
    expect(build.code).toBe(0);
  });

  it('boots with the autoinstall and nocloud arguments on the kernel command line', () => {
    const log = join(dir, 'serial-bios.log');
    const res = runCli(['boot', iso, '--firmware', 'bios', '--expect', 'FIXTURE-CMDLINE:.*autoinstall', '--timeout', '240', '--log', log]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    const cmdline = /FIXTURE-CMDLINE: (.*)/.exec(readFileSync(log, 'utf8'))?.[1] ?? '';
    expect(cmdline.split(/\s+/)).toEqual(expect.arrayContaining(['autoinstall', 'ds=nocloud;s=/cdrom/nocloud/', 'iso-build.profile=novasphere-fixture']));
    expect(cmdline).toMatch(/autoinstall ds=nocloud;s=\/cdrom\/nocloud\/( ---)?/);
  }, 300_000);
});
