/**
 * The offline package payload, end to end: a build from the single-squashfs fixture with a dependency closure, a local
 * .deb, an OCI image and a Helm chart; then, in the rootfs read back from the built ISO and with the network cut off
 * (a fresh network namespace), real apt-get and install.sh against the embedded signed repository. Also
 * `packages verify` on the payload and on copies with one defect each, and a second build that downloads nothing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runCli, sh, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';
import { fixtureBase, writeProfile, type ProfileDocument } from '../support/profile.js';

const VERSION = 'v1.0.0';
const PKG = join(REPO, 'test/fixtures/packages');
const PAYLOAD = 'opt/novasphere/packages';
const IMAGE_REF = 'registry.novasphere.invalid/test/hello:1.0';

const PROFILE: ProfileDocument = {
  name: 'pkg-test',
  product: 'Package Test',
  base: fixtureBase('single'),
  rootfs: { compression: 'gzip', compressionLevel: 1 },
  packages: {
    system: ['jq'],
    sources: [{ uri: 'host-mirror', suites: ['bookworm'], signedBy: '/usr/share/keyrings/debian-archive-keyring.gpg' }],
    debs: [`${PKG}/novasphere-hello-offline_1.0.0_all.deb`],
    images: [{ archive: `${PKG}/hello-image-oci.tar`, reference: IMAGE_REF }],
    charts: [{ name: 'hello', version: '0.1.0', path: `${PKG}/hello-chart-0.1.0.tgz` }],
    installScript: `${REPO}/profiles/templates/install.sh.hbs`,
    k3sAirgap: true,
    onIso: true,
  },
};

/** Runs a shell script in a fresh network and mount namespace: no network at all, mounts vanish with it. */
function offline(rootfs: string, script: string): { code: number | null; out: string } {
  const setup = `set -e; mount --bind /dev "$R/dev"; mount -t proc proc "$R/proc"; set +e; ${script}`;
  const res = spawnSync('unshare', ['--net', '--mount', '--fork', 'sh', '-c', setup], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', R: rootfs, LC_ALL: 'C' },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return { code: res.status, out: `${res.stdout}${res.stderr}` };
}

/** `packages:` lines of a build log: which .debs were resolved and whether each was downloaded. */
function resolvedDebs(log: string): { file: string; sha: string; downloaded: boolean }[] {
  return [...log.matchAll(/^packages: (downloaded|cached\s*) (\S+\.deb) sha256 ([0-9a-f]{64})$/gm)].map((m) => ({
    downloaded: m[1] === 'downloaded',
    file: m[2]!,
    sha: m[3]!,
  }));
}

/** An ar archive (a .deb) by hand, so its control data can be broken in ways dpkg-deb --build refuses. */
function arArchive(members: { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n')];
  for (const m of members) {
    const header = `${m.name.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(m.data.length).padEnd(10)}\`\n`;
    parts.push(Buffer.from(header, 'latin1'), m.data);
    if (m.data.length % 2 === 1) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

describe('offline package payload (fixture build)', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  let profile: string;
  let first: ReturnType<typeof runCli>;
  let second: ReturnType<typeof runCli>;
  let rootfs: string;
  let payload: string;

  beforeAll(() => {
    dir = tempDir('packages');
    profile = writeProfile(dir, 'profile', PROFILE);
    const build = (n: number): ReturnType<typeof runCli> =>
      runCli([VERSION, '--profile', profile, '--output', join(dir, `r${n}`), '--work', join(dir, `w${n}`)], {
        env: { SOURCE_DATE_EPOCH: '1700000000' },
      });
    first = build(1);
    second = build(2);
    if (first.code === 0) {
      const iso = join(dir, 'r1', `pkg-test-${VERSION}.iso`);
      sh('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/casper/filesystem.squashfs', join(dir, 'fs.squashfs')]);
      rootfs = join(dir, 'rootfs');
      sh('unsquashfs', ['-q', '-no-progress', '-d', rootfs, join(dir, 'fs.squashfs')]);
      payload = join(rootfs, PAYLOAD);
    }
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds twice; both resolve the same .debs and the second downloads nothing', () => {
    expect(first.stderr).not.toMatch(/^(error|internal error)/m);
    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(first.stderr).toMatch(/Package payload: 4 \.debs/);
    const log1 = readFileSync(join(dir, 'w1/build.log'), 'utf8');
    const log2 = readFileSync(join(dir, 'w2/build.log'), 'utf8');
    const debs1 = resolvedDebs(log1);
    const debs2 = resolvedDebs(log2);
    expect(debs1.map((d) => d.file)).toEqual(expect.arrayContaining([expect.stringMatching(/^jq_/), expect.stringMatching(/^libjq1_/), expect.stringMatching(/^libonig5_/)]));
    expect(debs2.map(({ file, sha }) => ({ file, sha }))).toEqual(debs1.map(({ file, sha }) => ({ file, sha })));
    expect(debs2.filter((d) => d.downloaded)).toEqual([]);
    expect(log2).toMatch(/^packages: downloaded 0, from cache 3$/m);
    expect(second.stderr).toMatch(/closure 3: 0 downloaded, 3 cached/);
    // nothing at all from the network: no .deb and no apt index
    const payloadSection = log2.slice(log2.indexOf('offline package payload'));
    expect(payloadSection).not.toMatch(/^\s+Get:\d+ /m);
    expect(payloadSection).toMatch(/apt lists are \d+ min old .*not refreshed/);
  });

  it('packages fetch resolves the same closure from the base ISO without unpacking it', () => {
    const res = runCli(['packages', 'fetch', '--profile', profile]);
    expect(res.code).toBe(0);
    // progress on stderr, the result alone on stdout
    expect(res.stderr).toMatch(/^target: \d+ apt\/dpkg files read from /m);
    expect(res.stderr).not.toMatch(/^(error|warning)/m);
    expect(res.stdout).not.toMatch(/^target: /m);
    expect(res.stdout).toMatch(/^jq_1\.6-2\.1\+deb12u2_amd64\.deb +63984 +sha256:[0-9a-f]{64}$/m);
    expect(res.stdout).toMatch(/^3 \.debs for amd64: 0 downloaded, 3 from the cache/m);
  });

  it('ships a signed flat repository (Release with SHA512), its keyring and a deb822 Signed-By sources entry (no trusted=yes)', () => {
    const sys = join(payload, 'system');
    for (const f of ['Packages', 'Packages.gz', 'Packages.xz', 'Release', 'InRelease', 'Release.gpg', 'signing-key.asc']) {
      expect(existsSync(join(sys, f)), f).toBe(true);
    }
    const release = readFileSync(join(sys, 'Release'), 'utf8');
    expect(release).toMatch(/^MD5Sum:\n( [0-9a-f]{32} +\d+ Packages(\.gz|\.xz)?\n){3}/m);
    expect(release).toMatch(/^SHA256:\n( [0-9a-f]{64} +\d+ Packages(\.gz|\.xz)?\n){3}/m);
    expect(release).toMatch(/^SHA512:\n( [0-9a-f]{128} +\d+ Packages(\.gz|\.xz)?\n){3}/m);
    expect(readFileSync(join(sys, 'InRelease'), 'utf8')).toMatch(/^-----BEGIN PGP SIGNED MESSAGE-----/);
    const keyring = join(rootfs, 'etc/apt/keyrings/pkg-test-packages.gpg');
    // the detached signature verifies with the keyring the rootfs trusts (read with gpgv, not our code)
    sh('gpgv', ['--keyring', keyring, join(sys, 'Release.gpg'), join(sys, 'Release')]);
    // deb822, which the apt-get runs below read (no one-line entry beside it)
    const entry = readFileSync(join(rootfs, 'etc/apt/sources.list.d/pkg-test-packages.sources'), 'utf8');
    expect(entry).toBe('Types: deb\nURIs: file:/opt/novasphere/packages/system\nSuites: ./\nSigned-By: /etc/apt/keyrings/pkg-test-packages.gpg\n');
    expect(existsSync(join(rootfs, 'etc/apt/sources.list.d/pkg-test-packages.list'))).toBe(false);
    const sourcesDir = join(rootfs, 'etc/apt/sources.list.d');
    const allSources = [join(rootfs, 'etc/apt/sources.list'), ...readdirSync(sourcesDir).map((n) => join(sourcesDir, n))];
    for (const f of allSources) expect(readFileSync(f, 'utf8'), f).not.toMatch(/trusted=yes|allow-insecure/);
    const packages = readFileSync(join(sys, 'Packages'), 'utf8');
    expect(packages.match(/^Package: .*$/gm)).toEqual(['Package: jq', 'Package: libjq1', 'Package: libonig5', 'Package: novasphere-hello-offline']);
  });

  it('lists image and chart with digests and a Helm index', () => {
    const images = readFileSync(join(payload, 'images/images.txt'), 'utf8');
    expect(images).toMatch(new RegExp(`^${IMAGE_REF.replaceAll('.', '\\.')} sha256:[0-9a-f]{64} hello-image-oci\\.tar$`, 'm'));
    const index = readFileSync(join(payload, 'charts/index.yaml'), 'utf8');
    expect(index).toMatch(/name: hello/);
    expect(index).toMatch(/version: 0\.1\.0/);
    expect(index).toMatch(/- hello-0\.1\.0\.tgz/);
    type Item = { kind: string; name: string; digest: string; source: string; file: string };
    const manifest = JSON.parse(readFileSync(join(payload, 'manifest.json'), 'utf8')) as { files: { path: string; sha256: string }[]; items: Item[] };
    expect(manifest.files.map((f) => f.path)).toContain('system/jq_1.6-2.1+deb12u2_amd64.deb');
    // Every item with its digest and source: the closure's .debs from the mirror, the local ones from the profile.
    const sha = new Map(manifest.files.map((f) => [f.path, f.sha256]));
    expect(manifest.items.map((i) => `${i.kind} ${i.name.split(' ')[0]}`)).toEqual(['deb jq', 'deb libjq1', 'deb libonig5', 'deb novasphere-hello-offline', `image ${IMAGE_REF}`, 'chart hello']);
    for (const i of manifest.items.filter((x) => x.kind !== 'image')) expect(i.digest, i.name).toBe(`sha256:${sha.get(i.file)}`);
    expect(manifest.items[0]!.source).toMatch(/^https?:\/\/\S+\/jq_1\.6-2\.1(\+|%2[bB])deb12u2_amd64\.deb$/);
    expect(manifest.items[3]!.source).toMatch(/^local:(\.\.\/)+.*test\/fixtures\/packages\/novasphere-hello-offline_1\.0\.0_all\.deb$/);
    expect(manifest.items[4]).toMatchObject({ digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), file: 'images/hello-image-oci.tar' });
    const release = JSON.parse(readFileSync(join(dir, 'r1', 'build-manifest.json'), 'utf8')) as { payload: Item[] };
    expect(release.payload).toEqual(manifest.items);
    expect(existsSync(join(rootfs, 'opt/novasphere/install.sh'))).toBe(true);
    // k3s air-gap: the archive where k3s imports images at start
    expect(readFileSync(join(rootfs, 'var/lib/rancher/k3s/agent/images/hello-image-oci.tar'))).toEqual(readFileSync(join(payload, 'images/hello-image-oci.tar')));
    // onIso: the same payload in the ISO tree, for the installer
    const iso = join(dir, 'r1', `pkg-test-${VERSION}.iso`);
    const onIso = sh('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/novasphere/packages/manifest.json', join(dir, 'iso-manifest.json')]);
    expect(onIso).toBeDefined();
    expect(readFileSync(join(dir, 'iso-manifest.json'), 'utf8')).toBe(readFileSync(join(payload, 'manifest.json'), 'utf8'));
  });

  it('refuses the repository offline when the key does not match (signature checking is on)', () => {
    const keyring = join(rootfs, 'etc/apt/keyrings/pkg-test-packages.gpg');
    const saved = `${keyring}.saved`;
    copyFileSync(keyring, saved);
    copyFileSync(join(rootfs, 'usr/share/keyrings/debian-archive-keyring.gpg'), keyring);
    try {
      const res = offline(rootfs, 'chroot "$R" apt-get update 2>&1; chroot "$R" apt-get install -y --no-install-recommends jq 2>&1; echo "rc=$?"');
      expect(res.out).toMatch(/NO_PUBKEY|is not signed/);
      expect(res.out).toMatch(/rc=100/);
    } finally {
      copyFileSync(saved, keyring);
      rmSync(saved);
      rmSync(join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true });
      mkdirSync(join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });
    }
  });

  it('with the network cut off, apt-get installs jq and its dependencies from the embedded repository', () => {
    const res = offline(
      rootfs,
      'ip link show 2>/dev/null | grep -c "state UP" | sed "s/^/links-up=/"; ' +
        'chroot "$R" apt-get update && DEBIAN_FRONTEND=noninteractive chroot "$R" apt-get install -y --no-install-recommends jq && chroot "$R" jq --version; echo "rc=$?"',
    );
    expect(res.out).toMatch(/Get:\d+ file:\/opt\/novasphere\/packages\/system \.\/ InRelease/);
    expect(res.out).not.toMatch(/NO_PUBKEY|not signed|insecure|trusted/i);
    expect(res.out).toMatch(/Setting up libonig5/);
    expect(res.out).toMatch(/Setting up libjq1/);
    expect(res.out).toMatch(/^jq-1\.6$/m);
    expect(res.out).toMatch(/rc=0/);
  });

  it('install.sh runs twice offline: the first run installs the rest, the second changes nothing and says so', () => {
    const run1 = offline(rootfs, 'chroot "$R" /opt/novasphere/install.sh; echo "rc=$?"');
    expect(run1.out).toMatch(/install\.sh: system packages: installed novasphere-hello-offline/);
    expect(run1.out).toMatch(/image registry\.novasphere\.invalid\/test\/hello:1\.0: already in \/var\/lib\/rancher\/k3s\/agent\/images/);
    expect(run1.out).toMatch(/rc=0/);
    const run2 = offline(rootfs, 'chroot "$R" /opt/novasphere/install.sh; echo "rc=$?"; chroot "$R" novasphere-hello-offline');
    expect(run2.out).toMatch(/system packages: already installed: jq novasphere-hello-offline/);
    expect(run2.out).toMatch(/nothing to do/);
    expect(run2.out).toMatch(/rc=0/);
    expect(run2.out).toMatch(/novasphere-hello-offline 1\.0\.0 \(jq-1\.6\)/);
  });

  describe('packages verify', () => {
    const copy = (name: string): string => {
      const target = join(dir, `verify-${name}`);
      rmSync(target, { recursive: true, force: true });
      cpSync(payload, target, { recursive: true });
      return target;
    };
    const expectBad = (target: string, file: RegExp, problem: RegExp): void => {
      const res = runCli(['packages', 'verify', target]);
      expect(res.code, res.stdout + res.stderr).toBe(3);
      const bad = res.stdout.split('\n').filter((l) => l.startsWith('BAD '));
      expect(bad.some((l) => file.test(l) && problem.test(l)), bad.join('\n')).toBe(true);
      expect(res.stderr).toMatch(/^error: .*problem/);
    };

    it('passes on the built payload and lists it', () => {
      const res = runCli(['packages', 'verify', payload]);
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/OK \(\d+ files match manifest\.json\)/);
      const list = runCli(['packages', 'list', payload]);
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(/^deb +jq 1\.6/m);
      expect(list.stdout).toMatch(new RegExp(`^image +${IMAGE_REF.replaceAll('.', '\\.')} sha256:`, 'm'));
      expect(list.stdout).toMatch(/^chart +hello 0\.1\.0$/m);
      const json = JSON.parse(runCli(['packages', 'list', payload, '--json']).stdout) as { debs: { package: string; version: string }[]; images: { ref: string; digest: string }[]; charts: { name: string; version: string }[]; files: number };
      expect(json.debs).toContainEqual(expect.objectContaining({ package: 'jq', version: expect.stringMatching(/^1\.6/) }));
      expect(json.images).toContainEqual({ ref: IMAGE_REF, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
      expect(json.charts).toContainEqual({ name: 'hello', version: '0.1.0' });
      expect(json.files).toBeGreaterThan(0);
    });

    it('names a truncated .deb', () => {
      const target = copy('truncated');
      const deb = join(target, 'system/libonig5_6.9.8-1_amd64.deb');
      truncateSync(deb, 50_000);
      expectBad(target, /system\/libonig5_6\.9\.8-1_amd64\.deb/, /truncated/);
    });

    it('names a .deb whose control data does not parse', () => {
      const target = copy('control');
      const work = join(dir, 'badcontrol');
      mkdirSync(join(work, 'c'), { recursive: true });
      writeFileSync(join(work, 'c/control'), 'this is not a control file\n\0\0garbage\n');
      execFileSync('tar', ['-C', join(work, 'c'), '-czf', join(work, 'control.tar.gz'), './control']);
      execFileSync('tar', ['-C', join(work, 'c'), '-czf', join(work, 'data.tar.gz'), '--files-from', '/dev/null']);
      const deb = arArchive([
        { name: 'debian-binary', data: Buffer.from('2.0\n') },
        { name: 'control.tar.gz', data: readFileSync(join(work, 'control.tar.gz')) },
        { name: 'data.tar.gz', data: readFileSync(join(work, 'data.tar.gz')) },
      ]);
      writeFileSync(join(target, 'system/broken_1.0_all.deb'), deb);
      expectBad(target, /system\/broken_1\.0_all\.deb/, /control data/);
    });

    it('names an image whose layer does not match its digest', () => {
      const target = copy('layer');
      const work = join(dir, 'badimage');
      mkdirSync(work, { recursive: true });
      execFileSync('tar', ['-C', work, '-xf', join(target, 'images/hello-image-oci.tar')]);
      const manifest = JSON.parse(readFileSync(join(work, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      const m = JSON.parse(readFileSync(join(work, 'blobs/sha256', manifest.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
      appendFileSync(join(work, 'blobs/sha256', m.layers[0]!.digest.slice(7)), 'tampered');
      execFileSync('tar', ['-C', work, '-cf', join(target, 'images/hello-image-oci.tar'), 'oci-layout', 'index.json', 'blobs']);
      expectBad(target, /images\/hello-image-oci\.tar/, /layer 1 .*does not match/);
    });

    it('names a chart whose Chart.yaml does not match', () => {
      const target = copy('chart');
      const work = join(dir, 'badchart');
      mkdirSync(join(work, 'hello'), { recursive: true });
      writeFileSync(join(work, 'hello/Chart.yaml'), 'apiVersion: v2\nname: hello\nversion: 0.2.0\n');
      execFileSync('tar', ['-C', work, '-czf', join(target, 'charts/hello-0.1.0.tgz'), 'hello']);
      expectBad(target, /charts\/hello-0\.1\.0\.tgz/, /version "0\.2\.0", expected "0\.1\.0"/);
    });

    it('names a Release whose signatures do not match it', () => {
      const target = copy('release');
      const release = join(target, 'system/Release');
      writeFileSync(release, readFileSync(release, 'utf8').replace(/^Label: .*$/m, 'Label: tampered'));
      expectBad(target, /system\/Release\.gpg/, /not a signature of system\/Release/);
      expectBad(target, /system\/InRelease/, /does not carry the same text/);
    });

    it('names a file missing from the payload and a file not in the manifest', () => {
      const target = copy('manifest');
      rmSync(join(target, 'system/Packages.xz'));
      writeFileSync(join(target, 'system/stray.txt'), 'not in the manifest\n');
      expectBad(target, /system\/Packages\.xz/, /listed in manifest\.json but missing/);
      expectBad(target, /system\/stray\.txt/, /not listed in manifest\.json/);
    });
  });
});
