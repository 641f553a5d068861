/** Package payload pieces that need no root and no network: parsers, checks, index writers, the install.sh template. */
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chartIndexYaml, checkChart, parseChartIndex } from '../../src/packages/charts.js';
import { checkImage, normalizeReference } from '../../src/packages/images.js';
import { renderInstallScript } from '../../src/packages/install-script.js';
import { checkLocalFiles, systemPackageNames } from '../../src/packages/payload.js';
import { releaseText, sortStanzas } from '../../src/packages/repo.js';
import { parsePrintUris, targetArchitecture, writeAptConfig } from '../../src/packages/resolve.js';
import { mirrorFromAptConfig, profileSourcesList, targetSources } from '../../src/packages/sources.js';
import { scanTar } from '../../src/packages/tar.js';
import { debArchiveProblem } from '../../src/packages/verify.js';
import { PackagesSchema } from '../../src/profile/schema.js';

const FIX = join(import.meta.dirname, '../fixtures/packages');
const IMAGE = join(FIX, 'hello-image-oci.tar');
const CHART = join(FIX, 'hello-chart-0.1.0.tgz');
const DEB = join(FIX, 'novasphere-hello-offline_1.0.0_all.deb');
const REF = 'registry.novasphere.invalid/test/hello:1.0';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'isobuild-unit-packages-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('profile packages section', () => {
  it('fills defaults', () => {
    expect(PackagesSchema.parse({ system: ['jq', 'curl=7.88.1-10', 'libc6:arm64'] })).toEqual({
      system: ['jq', 'curl=7.88.1-10', 'libc6:arm64'],
      recommends: false,
      debs: [],
      images: [],
      imageArchive: 'per-image',
      charts: [],
      files: [],
      k3sAirgap: false,
      onIso: false,
      installScript: 'templates/install.sh.hbs',
    });
  });

  it('rejects bad package names, unknown keys and charts with both or neither of path / repo', () => {
    expect(PackagesSchema.safeParse({ system: ['Bad Name'] }).success).toBe(false);
    expect(PackagesSchema.safeParse({ sytem: [] }).success).toBe(false);
    const mixed = PackagesSchema.safeParse({ imageArchive: 'bundle', images: [{ ref: 'a/b:1' }, { ref: 'a/c:1', format: 'oci-archive' }] });
    expect(mixed.error?.issues[0]).toMatchObject({ path: ['imageArchive'], message: expect.stringMatching(/one images\[\]\.format for a bundle, got docker-archive and oci-archive/) });
    expect(PackagesSchema.safeParse({ charts: [{ name: 'a', version: '1' }] }).success).toBe(false);
    expect(PackagesSchema.safeParse({ charts: [{ name: 'a', version: '1', path: 'a.tgz', repo: 'r' }] }).success).toBe(false);
    expect(PackagesSchema.safeParse({ sources: [{ uri: 'ftp://x', suites: ['bookworm'] }] }).success).toBe(false);
    expect(PackagesSchema.safeParse({ sources: [{ uri: 'host-mirror', suites: ['bookworm'], signedBy: '../x' }] }).success).toBe(false);
  });
});

describe('the packages an installer installs', () => {
  it('are packages.system without =version and the Package of each local .deb, found by file name or sha256', () => {
    const payload = join(tmp, 'names-payload');
    mkdirSync(join(payload, 'system'), { recursive: true });
    const odd = join(tmp, 'tool-latest.deb');
    writeFileSync(odd, 'not really a deb');
    const sha = execFileSync('sha256sum', [odd], { encoding: 'utf8' }).split(' ')[0];
    writeFileSync(
      join(payload, 'system/Packages'),
      `Package: novasphere-hello-offline\nVersion: 1.0.0\nFilename: ./novasphere-hello-offline_1.0.0_all.deb\nSHA256: ${'0'.repeat(64)}\n\n` +
        `Package: mytool\nVersion: 2\nFilename: ./mytool_2_amd64.deb\nSHA256: ${sha}\n`,
    );
    expect(systemPackageNames({ system: ['jq=1.6-2.1', 'libc6:arm64', 'jq'], debs: [DEB, odd] }, payload)).toEqual(['jq', 'libc6:arm64', 'novasphere-hello-offline', 'mytool']);
  });
});

describe('local payload files', () => {
  it('names every missing file with its key before anything is fetched', () => {
    const packages = PackagesSchema.parse({
      debs: ['novasphere-hello-offline_1.0.0_all.deb', 'missing.deb'],
      images: [{ archive: 'nope.tar', reference: 'a/b:1' }],
      charts: [{ name: 'hello', version: '0.1.0', path: 'hello-chart-0.1.0.tgz' }, { name: 'x', version: '1', repo: '.' }],
      installScript: '../../../profiles/templates/install.sh.hbs',
    });
    expect(() => checkLocalFiles({ packages, profileDir: FIX })).toThrow(
      /3 file\(s\) of the packages section not found: packages\.debs\[1\]: .*missing\.deb; packages\.images\[0\]\.archive: .*nope\.tar; packages\.charts\[1\]: .*x-1\.tgz$/,
    );
  });
});

describe('apt sources', () => {
  it('finds the first non-security mirror in deb822 .sources, then in .list files', () => {
    const etc = join(tmp, 'etc-apt');
    mkdirSync(join(etc, 'sources.list.d'), { recursive: true });
    writeFileSync(
      join(etc, 'sources.list.d/debian.sources'),
      'Types: deb\nURIs: http://security.example.invalid/debian-security\nSuites: bookworm-security\n\nTypes: deb deb-src\nURIs: http://mirror.example.invalid/debian\nSuites: bookworm\n',
    );
    expect(mirrorFromAptConfig(etc)).toBe('http://mirror.example.invalid/debian');
    rmSync(join(etc, 'sources.list.d/debian.sources'));
    writeFileSync(join(etc, 'sources.list'), '# comment\ndeb [arch=amd64] http://list.example.invalid/debian bookworm main\n');
    expect(mirrorFromAptConfig(etc)).toBe('http://list.example.invalid/debian');
  });

  it('writes profile sources with keyrings inside the rootfs and the target architecture', () => {
    const text = profileSourcesList(
      [{ uri: 'http://m.example.invalid/debian', suites: ['bookworm', 'bookworm-updates'], components: ['main'], signedBy: '/usr/share/keyrings/k.gpg' }],
      '/work/rootfs',
      'arm64',
    );
    expect(text).toBe(
      'deb [arch=arm64 signed-by=/work/rootfs/usr/share/keyrings/k.gpg] http://m.example.invalid/debian bookworm main\n' +
        'deb [arch=arm64 signed-by=/work/rootfs/usr/share/keyrings/k.gpg] http://m.example.invalid/debian bookworm-updates main\n',
    );
  });

  it("reads the target's own sources, pointing their keyrings into the rootfs", () => {
    const root = join(tmp, 'root-sources');
    mkdirSync(join(root, 'etc/apt/sources.list.d'), { recursive: true });
    writeFileSync(join(root, 'etc/apt/sources.list'), 'deb [signed-by=/usr/share/keyrings/u.gpg] http://u.example.invalid/ubuntu jammy main\n');
    writeFileSync(join(root, 'etc/apt/sources.list.d/x.sources'), 'Types: deb\nURIs: http://x.example.invalid\nSuites: jammy\nSigned-By: /etc/apt/keyrings/x.gpg\n');
    const files = targetSources(root);
    expect(files.map((f) => f.name)).toEqual(['sources.list', 'x.sources']);
    expect(files[0]!.text).toContain(`signed-by=${root}/usr/share/keyrings/u.gpg`);
    expect(files[1]!.text).toContain(`Signed-By: ${root}/etc/apt/keyrings/x.gpg`);
  });

  it('reads the target architecture from its dpkg status', () => {
    const root = join(tmp, 'root-arch');
    mkdirSync(join(root, 'var/lib/dpkg'), { recursive: true });
    writeFileSync(join(root, 'var/lib/dpkg/status'), 'Package: base-files\nArchitecture: arm64\n\nPackage: dpkg\nStatus: install ok installed\nArchitecture: arm64\n');
    expect(targetArchitecture(root)).toBe('arm64');
  });

  it("isolates apt: the target's status, keyrings and preferences; an empty status for another architecture", () => {
    const root = join(tmp, 'root-arch');
    const conf = readFileSync(writeAptConfig(root, join(tmp, 'state'), 'arm64', [{ name: 'sources.list', text: 'deb x y z\n' }]), 'utf8');
    expect(conf).toContain(`Dir::State::status "${root}/var/lib/dpkg/status";`);
    expect(conf).toContain(`Dir::Etc::trustedparts "${root}/etc/apt/trusted.gpg.d";`);
    expect(conf).toContain('APT::Architecture "arm64";');
    expect(readFileSync(join(tmp, 'state/etc/sources.list'), 'utf8')).toBe('deb x y z\n');
    const cross = readFileSync(writeAptConfig(root, join(tmp, 'state2'), 'riscv64', []), 'utf8');
    expect(cross).toContain(`Dir::State::status "${join(tmp, 'state2/empty-status')}";`);
  });
});

describe('closure and repository indexes', () => {
  it('parses apt-get --print-uris, sorted by package', () => {
    const out =
      "'http://m.invalid/pool/main/j/jq/jq_1.6-2.1%2bdeb12u2_amd64.deb' jq_1.6-2.1+deb12u2_amd64.deb 63984 SHA256:" + 'a'.repeat(64) + '\n' +
      "'http://m.invalid/pool/main/libo/libonig/libonig5_6.9.8-1_amd64.deb' libonig5_6.9.8-1_amd64.deb 187828 SHA256:" + 'b'.repeat(64) + '\n' +
      "'http://m.invalid/pool/main/e/x/epoch_1%3a2.0-1_all.deb' epoch_1%3a2.0-1_all.deb 10 SHA256:" + 'c'.repeat(64) + '\n';
    const debs = parsePrintUris(out);
    expect(debs.map((d) => [d.name, d.version, d.arch, d.size])).toEqual([
      ['epoch', '1:2.0-1', 'all', 10],
      ['jq', '1.6-2.1+deb12u2', 'amd64', 63984],
      ['libonig5', '6.9.8-1', 'amd64', 187828],
    ]);
  });

  it('sorts Packages stanzas and writes Release checksums', () => {
    expect(sortStanzas('Package: b\nVersion: 1\n\nPackage: a\nVersion: 2\n\n')).toBe('Package: a\nVersion: 2\n\nPackage: b\nVersion: 1\n');
    const dir = join(tmp, 'repo');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'Packages'), 'Package: a\n');
    const release = releaseText(dir, ['Packages'], { origin: 'O', label: 'L', epochSeconds: 1700000000, architectures: ['all', 'amd64'] });
    expect(release).toContain('Date: Tue, 14 Nov 2023 22:13:20 +0000\n');
    expect(release).toContain('Architectures: all amd64\n');
    // the real apt-ftparchive's output for the same: test/unit/repo-release.test.ts
    expect(release).toMatch(/^MD5Sum:\n [0-9a-f]{32} +11 Packages\nSHA1:\n [0-9a-f]{40} +11 Packages\nSHA256:\n [0-9a-f]{64} +11 Packages\nSHA512:\n [0-9a-f]{128} +11 Packages\n$/m);
  });
});

describe('.deb archive check', () => {
  it('accepts a complete .deb and names truncation and non-ar files', () => {
    expect(debArchiveProblem(DEB)).toBeUndefined();
    const cut = join(tmp, 'cut.deb');
    copyFileSync(DEB, cut);
    truncateSync(cut, 500);
    expect(debArchiveProblem(cut)).toMatch(/^truncated/);
    writeFileSync(join(tmp, 'text.deb'), 'hello');
    expect(debArchiveProblem(join(tmp, 'text.deb'))).toMatch(/not an ar archive/);
  });
});

describe('tar reader', () => {
  it('lists files with sha256 and keeps small contents', async () => {
    const scan = await scanTar(IMAGE);
    expect(scan.truncated).toBe(false);
    expect(scan.files.get('oci-layout')?.data?.toString()).toBe('{"imageLayoutVersion":"1.0.0"}');
    for (const f of scan.files.values()) {
      const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(f.name);
      if (m) expect(f.sha256).toBe(m[1]);
    }
  });

  it('reads gzip-compressed archives and long (pax) names', async () => {
    const dir = join(tmp, 'longnames');
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}.txt`;
    mkdirSync(join(dir, 'd'.repeat(120)), { recursive: true });
    writeFileSync(join(dir, long), 'x');
    execFileSync('tar', ['--format=pax', '-C', dir, '-czf', join(tmp, 'long.tgz'), long]);
    const scan = await scanTar(join(tmp, 'long.tgz'));
    expect(scan.gzip).toBe(true);
    expect([...scan.files.keys()]).toEqual([long]);
  });

  it('reports a cut archive as truncated', async () => {
    const cut = join(tmp, 'cut.tar');
    copyFileSync(IMAGE, cut);
    truncateSync(cut, 1100);
    expect((await scanTar(cut)).truncated).toBe(true);
  });
});

describe('image archives', () => {
  it('normalizes references like docker does', () => {
    expect(normalizeReference('busybox')).toBe('docker.io/library/busybox:latest');
    expect(normalizeReference('rancher/pause:3.6')).toBe('docker.io/rancher/pause:3.6');
    expect(normalizeReference('localhost:5000/a/b')).toBe('localhost:5000/a/b:latest');
    expect(normalizeReference(REF)).toBe(REF);
  });

  it('accepts the OCI archive for its reference, with its manifest digest', async () => {
    const check = await checkImage(IMAGE, REF);
    expect(check.problems).toEqual([]);
    expect(check.format).toBe('oci');
    expect(check.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('names a wrong reference, a tampered layer and a missing blob', async () => {
    expect((await checkImage(IMAGE, 'registry.novasphere.invalid/test/other:1.0')).problems.join()).toMatch(/does not provide/);
    const work = join(tmp, 'oci');
    mkdirSync(work, { recursive: true });
    execFileSync('tar', ['-C', work, '-xf', IMAGE]);
    const index = JSON.parse(readFileSync(join(work, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(readFileSync(join(work, 'blobs/sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
    const layer = join(work, 'blobs/sha256', manifest.layers[0]!.digest.slice(7));
    appendFileSync(layer, 'x');
    execFileSync('tar', ['-C', work, '-cf', join(tmp, 'bad-layer.tar'), 'oci-layout', 'index.json', 'blobs']);
    expect((await checkImage(join(tmp, 'bad-layer.tar'), REF)).problems.join()).toMatch(/layer 1 .*does not match its content/);
    rmSync(layer);
    execFileSync('tar', ['-C', work, '-cf', join(tmp, 'no-layer.tar'), 'oci-layout', 'index.json', 'blobs']);
    expect((await checkImage(join(tmp, 'no-layer.tar'), REF)).problems.join()).toMatch(/layer 1 .*is missing/);
  });

  it('checks docker-archive layers against the config diff_ids', async () => {
    const work = join(tmp, 'docker');
    mkdirSync(join(work, 'layer1'), { recursive: true });
    writeFileSync(join(tmp, 'f.txt'), 'hi');
    execFileSync('tar', ['-C', tmp, '-cf', join(work, 'layer1/layer.tar'), 'f.txt']);
    const diffId = execFileSync('sha256sum', [join(work, 'layer1/layer.tar')], { encoding: 'utf8' }).slice(0, 64);
    const config = JSON.stringify({ rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] } });
    writeFileSync(join(work, 'cfg.json'), config);
    const configSha = execFileSync('sha256sum', [join(work, 'cfg.json')], { encoding: 'utf8' }).slice(0, 64);
    writeFileSync(join(work, `${configSha}.json`), config);
    rmSync(join(work, 'cfg.json'));
    writeFileSync(join(work, 'manifest.json'), JSON.stringify([{ Config: `${configSha}.json`, RepoTags: ['rancher/pause:3.6'], Layers: ['layer1/layer.tar'] }]));
    execFileSync('tar', ['-C', work, '-cf', join(tmp, 'docker.tar'), 'manifest.json', `${configSha}.json`, 'layer1']);
    const ok = await checkImage(join(tmp, 'docker.tar'), 'docker.io/rancher/pause:3.6');
    expect(ok.problems).toEqual([]);
    expect(ok.format).toBe('docker-archive');
    expect(ok.digest).toBe(`sha256:${configSha}`);
    appendFileSync(join(work, 'layer1/layer.tar'), 'x');
    execFileSync('tar', ['-C', work, '-cf', join(tmp, 'docker-bad.tar'), 'manifest.json', `${configSha}.json`, 'layer1']);
    expect((await checkImage(join(tmp, 'docker-bad.tar'), 'rancher/pause:3.6')).problems.join()).toMatch(/layer 1 \(layer1\/layer\.tar\) does not match/);
  });

  it('names a file that is not an image archive', async () => {
    expect((await checkImage(DEB, REF)).problems.join()).toMatch(/not a tar archive/);
  });
});

describe('charts', () => {
  it('reads Chart.yaml and compares name and version', async () => {
    const ok = await checkChart(CHART, { name: 'hello', version: '0.1.0' });
    expect(ok).toMatchObject({ name: 'hello', version: '0.1.0', appVersion: '1.0', problems: [] });
    expect((await checkChart(CHART, { name: 'hello', version: '0.2.0' })).problems.join()).toMatch(/version "0\.1\.0", expected "0\.2\.0"/);
    expect((await checkChart(CHART, { name: 'other', version: '0.1.0' })).problems.join()).toMatch(/names chart "hello", expected "other"/);
  });

  it('writes an index.yaml that helm-style readers parse back', () => {
    const text = chartIndexYaml([{ name: 'hello', version: '0.1.0', metadata: { appVersion: '1.0' }, file: 'hello-0.1.0.tgz', sha256: 'a'.repeat(64) }], 1700000000);
    const doc = parse(text) as { apiVersion: string; entries: Record<string, { created: string; urls: string[] }[]>; generated: string };
    expect(doc.apiVersion).toBe('v1');
    expect(doc.entries.hello![0]!.urls).toEqual(['hello-0.1.0.tgz']);
    expect(doc.generated).toBe('2023-11-14T22:13:20.000Z');
    expect(parseChartIndex(text)).toEqual([{ name: 'hello', version: '0.1.0', file: 'hello-0.1.0.tgz', digest: 'a'.repeat(64) }]);
  });
});

describe('install.sh template', () => {
  const template = readFileSync(join(import.meta.dirname, '../../profiles/templates/install.sh.hbs'), 'utf8');
  const vars = {
    product: 'NovaSphere',
    name: 'novasphere',
    payloadDir: '/opt/novasphere/packages',
    repoDir: '/opt/novasphere/packages/system',
    sourcesEntry: 'Types: deb\nURIs: file:/opt/novasphere/packages/system\nSuites: ./\nSigned-By: /etc/apt/keyrings/novasphere-packages.gpg',
    keyring: '/etc/apt/keyrings/novasphere-packages.gpg',
    system: ['jq', 'open-iscsi'],
    images: [{ reference: "a/b:1.0", digest: 'sha256:x', file: "it's.tar", format: 'oci' }],
    k3sAirgap: true,
    k3sImagesDir: '/var/lib/rancher/k3s/agent/images',
  };

  it('renders a shell script that sh -n accepts, with values shell-quoted', () => {
    const script = renderInstallScript(template, vars);
    expect(script).toMatch(/^#!\/bin\/sh\n# NovaSphere: offline installer/);
    expect(script).toContain("PACKAGES='jq open-iscsi'");
    expect(script).toContain(`import_image 'it'\\''s.tar' a/b:1.0`);
    expect(script).not.toContain('&#x3D;');
    const file = join(tmp, 'install.sh');
    writeFileSync(file, script);
    execFileSync('sh', ['-n', file]);
  });

  it('fails on an unknown variable', () => {
    expect(() => renderInstallScript('{{nope}}', vars)).toThrow(/does not render/);
  });
});
