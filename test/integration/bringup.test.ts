/**
 * The first-boot bring-up script (profiles/templates/bringup.sh.hbs) as the build writes it into a rootfs, run for
 * real: Debian's containerd (started by the test in a temp dir, own socket) and ctr import the image archives (plain,
 * .tar.gz, .tar.zst) and `ctr images ls` is read back; containerd not running and no runtime at all give their own
 * message and leave the steps undone; the state file makes a second run say "nothing to do" only when every step is
 * done; a run killed mid-way is completed by the next. k3s is not in Debian: its part is checked through the files
 * placed and the environment of the install script — the test's k3s-install.sh only records its environment, standing
 * in for the upstream get.k3s.io script (not a tool under test). NOVASPHERE_ROOT points the script at the temp rootfs.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBringup } from '../../src/bringup/write.js';
import { BringupSchema } from '../../src/profile/schema-bringup.js';
import { PackagesSchema } from '../../src/profile/schema.js';
import { REPO } from '../support/cli.js';
import { needs, requireRoot, requireTools } from '../support/needs.js';
import { type Containerd, FIXTURE_CHART, FIXTURE_IMAGE, FIXTURE_REF, imageArchive, pathWithout, payloadRootfs, removeTempDirs, scratch, sh, startContainerd } from './bringup-helpers.js';

afterAll(removeTempDirs);

const NEEDS = needs(requireRoot('the script checks it runs as root'), requireTools('containerd', 'ctr', 'shellcheck', 'gzip', 'zstd', 'tar'));

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function build(root: string, bringup: unknown, packages: unknown): void {
  writeBringup({
    rootfs: root,
    name: 'bringup-test',
    product: 'NovaSphere Test',
    profileDir: join(REPO, 'profiles'),
    packages: PackagesSchema.parse(packages),
    bringup: BringupSchema.parse(bringup),
  });
}

function run(root: string, env: Record<string, string> = {}): { code: number | null; out: string } {
  return sh('sh', [join(root, 'opt/novasphere/bringup.sh')], { env: { ...process.env, NOVASPHERE_ROOT: root, ...env } });
}

describe('bringup.sh with containerd (non-k3s profile)', NEEDS, () => {
  let containerd: Containerd;
  let root: string;
  const refs = {
    plain: FIXTURE_REF,
    gz: 'registry.novasphere.invalid/test/hello-gz:1.0',
    zst: 'registry.novasphere.invalid/test/hello-zst:1.0',
  };
  beforeAll(async () => {
    containerd = await startContainerd();
    const dir = scratch('bringup-images');
    root = payloadRootfs([
      { archive: FIXTURE_IMAGE, reference: refs.plain },
      { archive: imageArchive(dir, 'hello-gz', refs.gz, 'gzip'), reference: refs.gz },
      { archive: imageArchive(dir, 'hello-zst', refs.zst, 'zstd'), reference: refs.zst },
    ]);
    // dpkg and zstd (requireTools) are installed on the host: the system step takes its "already installed" path,
    // touching nothing; zstd must be named, or the build refuses the .zst archive (below)
    build(root, { runtime: 'containerd' }, { system: ['dpkg', 'zstd'] });
  }, 60_000);

  it('the build refuses a .zst archive for a target without zstd, with a hint', () => {
    const bare = payloadRootfs([{ archive: join(root, 'opt/novasphere/packages/images/hello-zst.tar.zst'), reference: refs.zst }]);
    expect(() => build(bare, { runtime: 'containerd' }, { system: ['dpkg'] })).toThrow(/hello-zst\.tar\.zst is zstd-compressed, and the target has no zstd/);
  });
  afterAll(async () => {
    await containerd?.stop();
  });

  it('passes shellcheck', () => {
    const res = sh('shellcheck', ['-s', 'sh', join(root, 'opt/novasphere/bringup.sh')]);
    expect(res.out).toBe('');
    expect(res.code).toBe(0);
  });

  it('containerd not running: its own message at once, nothing recorded, and the next run does not say "nothing to do"', () => {
    const started = Date.now();
    const res = run(root, { CONTAINERD_ADDRESS: join(containerd.dir, 'no-such.sock') });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.out).toMatch(/containerd is not running \(no answer on .*no-such\.sock\)/);
    expect(res.out).not.toMatch(/failed to dial/);
    expect(res.out).toMatch(/NOVASPHERE-VERSION: 1\.2\.3/);
    expect(res.out).toMatch(/NOVASPHERE-PAYLOAD: failed: image:1:hello-image-oci\.tar image:2:hello-gz\.tar\.gz image:3:hello-zst\.tar\.zst/);
    expect(res.code).toBe(1);
    const state = readFileSync(join(root, 'var/lib/novasphere/bringup.state'), 'utf8');
    expect(state).toBe('version=1.2.3\ndone system\n');
    const again = run(root, { CONTAINERD_ADDRESS: join(containerd.dir, 'no-such.sock') });
    expect(again.out).not.toMatch(/nothing to do/);
    expect(again.out).toMatch(/system: done in an earlier run/);
  });

  it('imports plain, .tar.gz and .tar.zst archives; ctr lists every reference; the second run has nothing to do', () => {
    const res = run(root, { CONTAINERD_ADDRESS: containerd.socket });
    expect(res.out).toMatch(/NOVASPHERE-PAYLOAD: ok/);
    expect(res.code, res.out).toBe(0);
    expect(containerd.images()).toEqual(expect.arrayContaining(Object.values(refs)));
    for (const ref of Object.values(refs)) expect(res.out).toContain(`image ${ref}: imported into containerd`);
    expect(existsSync(join(root, 'var/tmp')) ? sh('ls', [join(root, 'var/tmp')]).out : '').toBe(''); // no decompressed leftovers
    const log = readFileSync(join(root, 'var/log/novasphere/bringup.log'), 'utf8');
    expect(log).toMatch(/Z NOVASPHERE-PAYLOAD: ok$/m);
    expect(log).toMatch(/Z bringup: image registry\.novasphere\.invalid\/test\/hello-gz:1\.0: imported into containerd$/m);
    const listed = readFileSync(join(root, 'var/log/novasphere/images.txt'), 'utf8').split('\n').filter(Boolean);
    expect(listed).toEqual(expect.arrayContaining(Object.values(refs))); // what ctr listed after the imports
    const again = run(root, { CONTAINERD_ADDRESS: containerd.socket });
    expect(again.out).toMatch(/nothing to do: NovaSphere Test 1\.2\.3 is brought up/);
    expect(again.out).toMatch(/^NOVASPHERE-VERSION: 1\.2\.3\nNOVASPHERE-PAYLOAD: ok$/m);
    expect(again.code).toBe(0);
  });

  it('a new version runs every step again (idempotent: the images are already there)', () => {
    writeFileSync(join(root, 'opt/novasphere/VERSION'), '1.2.4\n');
    const res = run(root, { CONTAINERD_ADDRESS: containerd.socket });
    expect(res.out).toContain(`image ${refs.gz}: already in containerd`);
    expect(res.out).toMatch(/NOVASPHERE-VERSION: 1\.2\.4/);
    expect(readFileSync(join(root, 'var/lib/novasphere/bringup.state'), 'utf8')).toMatch(/^version=1\.2\.4\n/);
  });
});

describe('bringup.sh without a container runtime', NEEDS, () => {
  it('says so, records no image and never reports "nothing to do"', () => {
    const root = payloadRootfs([{ archive: FIXTURE_IMAGE, reference: FIXTURE_REF }]);
    build(root, {}, {});
    const path = pathWithout(root, ['ctr', 'docker', 'containerd']);
    for (let i = 0; i < 2; i++) {
      const res = run(root, { PATH: path });
      expect(res.out).toMatch(/no container runtime here \(neither ctr nor docker found\)/);
      expect(res.out).toMatch(/NOVASPHERE-PAYLOAD: failed: image:1:hello-image-oci\.tar/);
      expect(res.out).not.toMatch(/nothing to do/);
      expect(res.code).toBe(1);
    }
    expect(existsSync(join(root, 'var/lib/novasphere/bringup.state'))).toBe(false);
  });
});

describe('bringup.sh for a k3s profile', NEEDS, () => {
  let root: string;
  let files: string;
  const values = { replicas: 2, service: { type: 'NodePort' } };
  beforeAll(() => {
    root = payloadRootfs([{ archive: FIXTURE_IMAGE, reference: FIXTURE_REF }], [{ source: FIXTURE_CHART, file: 'hello-0.1.0.tgz' }]);
    files = scratch('bringup-k3s-files');
    writeFileSync(join(files, 'k3s'), '#!/bin/sh\necho "k3s version v1.30.4+k3s1 (test binary)"\n', { mode: 0o755 });
    // Stands in for the upstream get.k3s.io script: records the environment it is run with; hangs while $R/hang exists.
    writeFileSync(
      join(files, 'install.sh'),
      '#!/bin/sh\nenv | grep "^INSTALL_K3S_" | sort > "$NOVASPHERE_ROOT/k3s-install.env"\nwhile [ -e "$NOVASPHERE_ROOT/hang" ]; do sleep 0.2; done\n',
      { mode: 0o755 },
    );
    build(
      root,
      {
        k3s: {
          binary: join(files, 'k3s'),
          installScript: join(files, 'install.sh'),
          exec: 'server --disable traefik',
          mirrors: [{ registry: 'docker.io', endpoints: ['https://registry.novasphere.invalid:5000'] }],
        },
        charts: [{ name: 'hello', targetNamespace: 'hello-system', values }],
      },
      { charts: [{ name: 'hello', version: '0.1.0', path: FIXTURE_CHART }] },
    );
  });

  it('passes shellcheck', () => {
    const res = sh('shellcheck', ['-s', 'sh', join(root, 'opt/novasphere/bringup.sh')]);
    expect(res.out).toBe('');
  });

  it('writes the HelmChart manifest at build time: it parses and its chartContent is the exact chart .tgz', () => {
    const manifest = parse(readFileSync(join(root, 'var/lib/rancher/k3s/server/manifests/chart-hello.yaml'), 'utf8')) as {
      apiVersion: string;
      kind: string;
      metadata: { name: string; namespace: string };
      spec: { chart: string; version: string; targetNamespace: string; createNamespace: boolean; chartContent: string; valuesContent: string };
    };
    expect(manifest.apiVersion).toBe('helm.cattle.io/v1');
    expect(manifest.kind).toBe('HelmChart');
    expect(manifest.metadata).toEqual({ name: 'hello', namespace: 'kube-system' });
    expect(manifest.spec).toMatchObject({ chart: 'hello', version: '0.1.0', targetNamespace: 'hello-system', createNamespace: true });
    expect(sha256(Buffer.from(manifest.spec.chartContent, 'base64'))).toBe(sha256(readFileSync(FIXTURE_CHART)));
    expect(parse(manifest.spec.valuesContent)).toEqual(values);
    const registries = parse(readFileSync(join(root, 'etc/rancher/k3s/registries.yaml'), 'utf8')) as unknown;
    expect(registries).toEqual({ mirrors: { 'docker.io': { endpoint: ['https://registry.novasphere.invalid:5000'] } } });
  });

  it('a run killed in the install script is completed by the next; then nothing to do', async () => {
    writeFileSync(join(root, 'hang'), '');
    const child = spawn('sh', [join(root, 'opt/novasphere/bringup.sh')], { env: { ...process.env, NOVASPHERE_ROOT: root }, detached: true, stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(join(root, 'k3s-install.env')); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(join(root, 'k3s-install.env'))).toBe(true);
    process.kill(-child.pid!, 'SIGKILL'); // the whole group, as a power cut would
    await new Promise((r) => child.once('exit', r));
    expect(readFileSync(join(root, 'var/lib/novasphere/bringup.state'), 'utf8')).toBe('version=1.2.3\ndone k3s-binary\n');
    rmSync(join(root, 'hang'));

    const res = run(root);
    expect(res.out).toMatch(/k3s-binary: done in an earlier run/);
    expect(res.out).toMatch(/k3s: install script done \(INSTALL_K3S_SKIP_DOWNLOAD=true\)/);
    expect(res.out).toMatch(/NOVASPHERE-PAYLOAD: ok/);
    expect(res.code, res.out).toBe(0);
    expect(readFileSync(join(root, 'usr/local/bin/k3s'))).toEqual(readFileSync(join(files, 'k3s')));
    expect(readFileSync(join(root, 'k3s-install.env'), 'utf8')).toBe(
      [
        `INSTALL_K3S_BIN_DIR=${root}/usr/local/bin`,
        'INSTALL_K3S_EXEC=server --disable traefik',
        'INSTALL_K3S_SKIP_DOWNLOAD=true',
        'INSTALL_K3S_SKIP_SELINUX_RPM=true',
        'INSTALL_K3S_SKIP_START=true',
        '',
      ].join('\n'),
    );
    expect(readFileSync(join(root, 'var/lib/rancher/k3s/agent/images/hello-image-oci.tar'))).toEqual(readFileSync(FIXTURE_IMAGE));
    expect(res.out).toMatch(/chart: \/var\/lib\/rancher\/k3s\/server\/manifests\/chart-hello\.yaml in place/);

    const again = run(root);
    expect(again.out).toMatch(/nothing to do/);
    expect(again.out).toMatch(/NOVASPHERE-PAYLOAD: ok/);
  }, 30_000);

  it('enables the unit for multi-user.target; the unit runs the script once per boot outside the live session', () => {
    const unit = readFileSync(join(root, 'usr/lib/systemd/system/novasphere-bringup.service'), 'utf8');
    expect(unit).toMatch(/^Type=oneshot$/m);
    expect(unit).toMatch(/^ExecStart=\/opt\/novasphere\/bringup\.sh$/m);
    expect(unit).toMatch(/^StandardOutput=journal\+console$/m);
    expect(unit).toMatch(/^ConditionKernelCommandLine=!boot=casper$/m);
    expect(sh('readlink', [join(root, 'etc/systemd/system/multi-user.target.wants/novasphere-bringup.service')]).out.trim()).toBe(
      '/usr/lib/systemd/system/novasphere-bringup.service',
    );
  });
});
