/**
 * install.sh (profiles/templates/install.sh.hbs) on each container-runtime path, with real programs: Debian's
 * containerd started by the test in a temp dir (own socket) and ctr; containerd installed but not running; no runtime.
 * The script is rendered with its payload in a temp dir and run in a private mount namespace whose
 * /etc/apt/sources.list.d is a tmpfs, so the sources entry it writes never reaches the host.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderInstallScript } from '../../src/packages/install-script.js';
import { REPO } from '../support/cli.js';
import { needs, requireRoot, requireTools } from '../support/needs.js';
import { type Containerd, FIXTURE_IMAGE, imageArchive, pathWithout, removeTempDirs, scratch, sh, startContainerd } from './bringup-helpers.js';

const GZ_REF = 'registry.novasphere.invalid/test/hello-install-gz:1.0';

function renderTo(dir: string, k3sAirgap: boolean): string {
  const payload = join(dir, 'payload');
  mkdirSync(join(payload, 'images'), { recursive: true });
  mkdirSync(join(payload, 'system'), { recursive: true });
  writeFileSync(join(payload, 'system/signing-key.asc'), 'not used: no system packages in this test\n');
  const gz = imageArchive(dir, 'hello-install-gz', GZ_REF, 'gzip');
  sh('cp', [gz, join(payload, 'images/hello-install-gz.tar.gz')]);
  const script = renderInstallScript(readFileSync(join(REPO, 'profiles/templates/install.sh.hbs'), 'utf8'), {
    product: 'NovaSphere Test',
    name: 'isob-install-test',
    payloadDir: payload,
    repoDir: join(payload, 'system'),
    sourcesEntry: '',
    keyring: join(dir, 'keyrings/test-packages.gpg'),
    system: [],
    images: [{ reference: GZ_REF, digest: '', file: 'hello-install-gz.tar.gz', format: 'oci' }],
    k3sAirgap,
    k3sImagesDir: join(dir, 'no-k3s-here'),
  });
  const file = join(dir, `install${k3sAirgap ? '-k3s' : ''}.sh`);
  writeFileSync(file, script, { mode: 0o755 });
  return file;
}

function run(script: string, env: Record<string, string>): { code: number | null; out: string; ms: number } {
  const started = Date.now();
  const res = sh('unshare', ['--mount', 'sh', '-c', 'mount -t tmpfs tmpfs /etc/apt/sources.list.d && sh "$0"', script], { env: { ...process.env, ...env } });
  return { ...res, ms: Date.now() - started };
}

describe('install.sh container runtimes', needs(requireRoot('install.sh checks it runs as root; unshare --mount'), requireTools('containerd', 'ctr', 'shellcheck', 'gzip', 'tar', 'unshare')), () => {
  let containerd: Containerd;
  let dir: string;
  let script: string;
  let noDocker: string;
  beforeAll(async () => {
    containerd = await startContainerd();
    dir = scratch('install-sh');
    script = renderTo(dir, false);
    noDocker = pathWithout(join(dir, 'no-docker'), ['docker']);
  }, 60_000);
  afterAll(async () => {
    await containerd?.stop();
    removeTempDirs();
  });

  it('passes shellcheck (with and without k3sAirgap)', () => {
    for (const file of [script, renderTo(join(dir, 'k3s'), true)]) {
      const res = sh('shellcheck', ['-s', 'sh', file]);
      expect(res.out, file).toBe('');
    }
  });

  it('containerd installed but not running: a clear message at once, and the images stay pending', () => {
    for (let i = 0; i < 2; i++) {
      const res = run(script, { PATH: noDocker, CONTAINERD_ADDRESS: join(dir, 'no-such.sock') });
      expect(res.ms).toBeLessThan(5000);
      expect(res.out).toMatch(/not imported: containerd is not running \(no answer on .*no-such\.sock\)/);
      expect(res.out).not.toMatch(/failed to dial/);
      expect(res.out).toMatch(/incomplete: NovaSphere Test unknown payload installed except the images/);
      expect(res.out).not.toMatch(/nothing to do/);
      expect(res.code).toBe(0);
    }
  });

  it('no runtime at all: says so, and a second run does not claim "nothing to do"', () => {
    const bare = pathWithout(join(dir, 'bare'), ['docker', 'ctr', 'containerd']);
    for (let i = 0; i < 2; i++) {
      const res = run(script, { PATH: bare });
      expect(res.out).toMatch(/not imported: no k3s, docker or containerd here/);
      expect(res.out).not.toMatch(/nothing to do/);
    }
  });

  it('a .tar.gz archive is decompressed and imported by ctr; ctr lists it; the next run has nothing to do', () => {
    const res = run(script, { PATH: noDocker, CONTAINERD_ADDRESS: containerd.socket });
    expect(res.out).toContain(`image ${GZ_REF}: imported into containerd`);
    expect(res.code, res.out).toBe(0);
    expect(containerd.images()).toContain(GZ_REF);
    const again = run(script, { PATH: noDocker, CONTAINERD_ADDRESS: containerd.socket });
    expect(again.out).toContain(`image ${GZ_REF}: already in containerd`);
    expect(again.out).toMatch(/nothing to do/);
  });

  it('k3sAirgap: the archive is copied to the k3s images directory; the next run has nothing to do', () => {
    const k3sDir = join(dir, 'airgap');
    const k3sScript = renderTo(k3sDir, true);
    const first = run(k3sScript, { PATH: noDocker });
    expect(first.out).toMatch(/copied to .*no-k3s-here \(k3s imports it when it starts\)/);
    expect(readFileSync(join(k3sDir, 'no-k3s-here/hello-install-gz.tar.gz'))).toEqual(readFileSync(join(k3sDir, 'payload/images/hello-install-gz.tar.gz')));
    const again = run(k3sScript, { PATH: noDocker });
    expect(again.out).toMatch(/nothing to do/);
    expect(again.code).toBe(0);
  });

  it("installs the payload's files/bin programs to /usr/local/bin (mode kept), leaves the other files; then nothing to do", () => {
    const filesDir = join(dir, 'files-case');
    const withFiles = renderTo(filesDir, true);
    const files = join(filesDir, 'payload/files');
    mkdirSync(join(files, 'bin'), { recursive: true });
    mkdirSync(join(files, 'manifests'), { recursive: true });
    writeFileSync(join(files, 'bin/novasphere-tool'), '#!/bin/sh\necho tool\n', { mode: 0o755 });
    writeFileSync(join(files, 'bin/helm-v3.tar.gz'), 'an archive, not a program\n', { mode: 0o644 });
    writeFileSync(join(files, 'manifests/app.yaml'), 'kind: x\n');
    // both runs and the listing in one private mount namespace whose /usr/local/bin is a tmpfs (the host's is untouched)
    const res = sh('unshare', ['--mount', 'sh', '-c',
      'mount -t tmpfs tmpfs /etc/apt/sources.list.d && mount -t tmpfs tmpfs /usr/local/bin && sh "$0" && echo ---- && sh "$0" && echo ---- && ' +
      'stat -c "%n %a" /usr/local/bin/* && /usr/local/bin/novasphere-tool', withFiles], { env: { ...process.env, PATH: noDocker } });
    expect(res.code, res.out).toBe(0);
    const [first, second, listing] = res.out.split('----\n');
    expect(first).toMatch(/file bin\/novasphere-tool: installed to \/usr\/local\/bin/);
    expect(second).toMatch(/file bin\/novasphere-tool: already in \/usr\/local\/bin/);
    expect(second).toMatch(/nothing to do/);
    expect(listing).toBe('/usr/local/bin/novasphere-tool 755\ntool\n');
  });

  it('the fixture archive is a plain tar (the .tar.gz case above is the one ctr 1.6 refuses undecompressed)', () => {
    const res = sh('ctr', ['--address', containerd.socket, '-n', 'k8s.io', 'images', 'import', join(dir, 'payload/images/hello-install-gz.tar.gz')]);
    expect(res.code).not.toBe(0);
    expect(readFileSync(FIXTURE_IMAGE).subarray(257, 262).toString()).toBe('ustar');
  });
});
