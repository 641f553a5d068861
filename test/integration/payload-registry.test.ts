/**
 * Payload images from a real registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1: plain HTTP (marked
 * insecure in registries.conf), htpasswd basic auth, TLS with a CA made here. Images are hand-made OCI layouts pushed
 * with skopeo, one of them a multi-platform index (amd64 + arm64): the lock pins each platform's manifest digest,
 * the payload archive holds that platform's layer (read back with tar), and errors are one line with a hint.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runCli, tempDir } from '../support/cli.js';
import { needs, requireRoot, requireTools } from '../support/needs.js';
import { removeTempDirs, startContainerd } from './bringup-helpers.js';
import {
  cacheFiles,
  homeWithInsecure,
  makeCa,
  makeChartLayout,
  makeOciLayout,
  payloadProfile,
  push,
  sha256hex,
  startRegistry,
  targetRoot,
  type OciImage,
  type Registry,
} from './payload-servers.js';

/** Files under the cache's image and blob directories (a *.partial among them would be a leftover). */
const cachedImagesAndBlobs = (cache: string): string[] => cacheFiles(cache, 'packages/images', 'packages/blobs');

/** The content of /arch.txt in a docker-archive's (only) layer, read with tar. */
function archOf(archive: string): string {
  const manifest = JSON.parse(execFileSync('tar', ['-xOf', archive, 'manifest.json'], { encoding: 'utf8' })) as { Layers: string[]; RepoTags: string[] }[];
  const layer = execFileSync('tar', ['-xOf', archive, manifest[0]!.Layers[0]!]);
  return execFileSync('tar', ['-xO', 'arch.txt'], { input: layer, encoding: 'utf8' }).trim();
}

const chartTgz = readFileSync(join(REPO, 'test/fixtures/packages/hello-chart-0.1.0.tgz'));

describe('payload images from a registry', needs(requireTools('skopeo', 'docker-registry', 'htpasswd', 'openssl', 'tar')), () => {
  let dir: string;
  let plain: Registry;
  let authed: Registry;
  let tls: Registry;
  let multi: OciImage;
  let single: OciImage;
  let ca: ReturnType<typeof makeCa>;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = tempDir('payload-registry');
    ca = makeCa(join(dir, 'ca'));
    plain = await startRegistry(join(dir, 'reg-plain'));
    authed = await startRegistry(join(dir, 'reg-auth'), { user: { name: 'builder', password: 's3cret' } });
    tls = await startRegistry(join(dir, 'reg-tls'), { tls: ca });
    env = { HOME: homeWithInsecure(join(dir, 'home'), [plain.host, authed.host]), ISO_BUILD_FETCH_BACKOFF_MS: '50', ISO_BUILD_FETCH_RETRIES: '1' };
    multi = makeOciLayout(join(dir, 'img-multi'), '1.0', ['amd64', 'arm64']);
    single = makeOciLayout(join(dir, 'img-single'), '2.0', ['amd64']);
    push(multi, `${plain.host}/team/app:1.0`, env);
    push(single, `${plain.host}/team/tool:2.0`, env);
    push(single, `${authed.host}/team/tool:2.0`, env, ['--dest-creds', 'builder:s3cret']);
    push(single, `${tls.host}/team/tool:2.0`, env, ['--dest-cert-dir', ca.certDir]);
    for (const version of ['0.1.0', '0.1.5', '0.2.0']) push(makeChartLayout(join(dir, `chart-${version}`), chartTgz, { name: 'hello', version }), `${plain.host}/charts/hello:${version}`, env);
  });

  afterAll(async () => {
    await Promise.all([plain, authed, tls].filter(Boolean).map((r) => r.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('locks each platform of a multi-platform index to its manifest digest and pulls that platform', () => {
    const cache = join(dir, 'cache-multi');
    const file = payloadProfile(dir, 'multi', {
      architecture: 'amd64',
      images: [
        { ref: `${plain.host}/team/app:1.0` },
        { ref: `${plain.host}/team/app:1.0`, platform: 'linux/arm64' },
        { ref: `${plain.host}/team/tool:2.0`, format: 'oci-archive' },
      ],
    });
    const lockRun = runCli(['packages', 'lock', '--profile', file, '--cache', cache], { env });
    expect(lockRun.stderr).not.toMatch(/^(error|warning)/m);
    expect(lockRun.stderr).toContain(`image ${plain.host}/team/app:1.0 linux/arm64: ${multi.manifests.arm64}\n`);
    expect(lockRun.code).toBe(0);
    const lockText = readFileSync(join(dir, 'multi.lock.yaml'), 'utf8');
    const lock = parse(lockText) as { images: { ref: string; platform: string; digest: string; index?: string; format: string }[] };
    const byPlatform = Object.fromEntries(lock.images.filter((i) => i.ref.endsWith('app:1.0')).map((i) => [i.platform, i]));
    expect(byPlatform['linux/amd64']).toMatchObject({ digest: multi.manifests.amd64, index: multi.index });
    expect(byPlatform['linux/arm64']).toMatchObject({ digest: multi.manifests.arm64, index: multi.index });
    expect(lock.images.find((i) => i.ref.endsWith('tool:2.0'))).toMatchObject({ digest: single.manifests.amd64, format: 'oci-archive' });
    expect(lock.images.find((i) => i.ref.endsWith('tool:2.0'))!.index).toBeUndefined();

    // Locking again gives the same bytes (sorted, stable).
    expect(runCli(['packages', 'lock', '--profile', file, '--cache', cache], { env }).code).toBe(0);
    expect(readFileSync(join(dir, 'multi.lock.yaml'), 'utf8')).toBe(lockText);

    const out = join(dir, 'out-multi');
    const fetch = runCli(['packages', 'fetch', '--profile', file, '--rootfs', targetRoot(dir, 'amd64'), '--cache', cache, '--output', out], { env });
    expect(fetch.stderr).not.toMatch(/^(error|warning)/m);
    expect(fetch.code).toBe(0);
    // Each pull: a start line with the manifest's size, an end line; on stderr, not stdout.
    expect(fetch.stderr).toMatch(new RegExp(`^fetching ${plain.host}/team/app:1\\.0 \\(linux/arm64\\) \\(\\d+(\\.\\d)? (B|KiB)\\)$`, 'm'));
    expect(fetch.stderr).toMatch(new RegExp(`^fetched ${plain.host}/team/app:1\\.0 \\(linux/arm64\\): \\d+ B in `, 'm'));
    expect(fetch.stdout).not.toMatch(/fetch(ing|ed) /);
    const again = runCli(['packages', 'fetch', '--profile', file, '--rootfs', targetRoot(dir, 'amd64'), '--cache', cache], { env });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`cached ${plain.host}/team/tool:2.0 (linux/amd64)\n`);
    expect(again.stderr).not.toMatch(/^fetching /m);
    const images = join(out, 'opt/novasphere/packages/images');
    expect(archOf(join(images, 'app_1.0_amd64.tar'))).toBe('amd64');
    expect(archOf(join(images, 'app_1.0_arm64.tar'))).toBe('arm64');
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', join(images, 'app_1.0_amd64.tar'), 'manifest.json'], { encoding: 'utf8' })) as { RepoTags: string[] }[];
    expect(manifest[0]!.RepoTags).toEqual([`${plain.host}/team/app:1.0`]);
    // The OCI archive is an OCI layout whose index names the pinned manifest.
    const ociIndex = JSON.parse(execFileSync('tar', ['-xOf', join(images, 'tool_2.0_amd64.tar'), 'index.json'], { encoding: 'utf8' })) as { manifests: { digest: string }[] };
    expect(ociIndex.manifests[0]!.digest).toBe(single.manifests.amd64);
    const txt = readFileSync(join(images, 'images.txt'), 'utf8');
    expect(txt).toMatch(/^# reference digest file\n# digest: the image manifest digest/);
    expect(txt).toContain(`${plain.host}/team/app:1.0 ${multi.manifests.arm64} app_1.0_arm64.tar\n`);
    expect(runCli(['packages', 'verify', join(out, 'opt/novasphere/packages')]).code).toBe(0);
    expect(cachedImagesAndBlobs(cache).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('fails with a one-line input error for a missing tag and leaves nothing in the cache', () => {
    const cache = join(dir, 'cache-missing');
    const file = payloadProfile(dir, 'missing', { architecture: 'amd64', images: [{ ref: `${plain.host}/team/app:9.9` }] });
    const res = runCli(['packages', 'lock', '--profile', file, '--cache', cache], { env });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/(?:^|\n)error: image \S+app:9\.9: not in the registry .*\nhint: .+\n$/);
    expect(existsSync(join(dir, 'missing.lock.yaml'))).toBe(false);
    expect(cachedImagesAndBlobs(cache)).toEqual([]);
  });

  it('needs credentials for the htpasswd registry: 401 without, pulls with $REGISTRY_AUTH_FILE', () => {
    const cache = join(dir, 'cache-auth');
    const file = payloadProfile(dir, 'authed', { architecture: 'amd64', images: [{ ref: `${authed.host}/team/tool:2.0` }] });
    const denied = runCli(['packages', 'lock', '--profile', file, '--cache', cache], { env: { ...env, REGISTRY_AUTH_FILE: join(dir, 'none.json') } });
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/(?:^|\n)error: image \S+: the registry refused access .*\nhint: .*REGISTRY_AUTH_FILE.*\n$/);
    const authFile = join(dir, 'auth.json');
    writeFileSync(authFile, JSON.stringify({ auths: { [authed.host]: { auth: Buffer.from('builder:s3cret').toString('base64') } } }));
    const ok = runCli(['packages', 'lock', '--profile', file, '--cache', cache], { env: { ...env, REGISTRY_AUTH_FILE: authFile } });
    expect(ok.stderr).not.toMatch(/^(error|warning)/m);
    expect(ok.code).toBe(0);
    const fetch = runCli(['packages', 'fetch', '--profile', file, '--rootfs', targetRoot(dir, 'amd64'), '--cache', cache], { env: { ...env, REGISTRY_AUTH_FILE: authFile } });
    expect(fetch.code).toBe(0);
    expect(cachedImagesAndBlobs(cache).map((f) => f.slice(cache.length))).toEqual([expect.stringMatching(new RegExp(`^/packages/images/${single.manifests.amd64!.slice(7)}\\.[0-9a-f]{12}\\.docker-archive\\.tar$`))]);
  });

  it('trusts a TLS registry only with its CA in packages.caFile', () => {
    const cache = join(dir, 'cache-tls');
    const without = payloadProfile(dir, 'tls-noca', { architecture: 'amd64', images: [{ ref: `${tls.host}/team/tool:2.0` }] });
    const bad = runCli(['packages', 'lock', '--profile', without, '--cache', cache], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/(?:^|\n)error: image \S+: TLS failed .*\nhint: .*caFile.*\n$/);
    const withCa = payloadProfile(dir, 'tls-ca', { architecture: 'amd64', caFile: ca.ca, images: [{ ref: `${tls.host}/team/tool:2.0` }] });
    const ok = runCli(['packages', 'lock', '--profile', withCa, '--cache', cache], { env });
    expect(ok.stderr).not.toMatch(/^(error|warning)/m);
    expect(ok.code).toBe(0);
    expect((parse(readFileSync(join(dir, 'tls-ca.lock.yaml'), 'utf8')) as { images: { digest: string }[] }).images[0]!.digest).toBe(single.manifests.amd64);
  });

  it('refuses to fetch without a lock, or with one that does not match the profile', () => {
    const cache = join(dir, 'cache-nolock');
    const file = payloadProfile(dir, 'nolock', { architecture: 'amd64', images: [{ ref: `${plain.host}/team/tool:2.0` }] });
    const none = runCli(['packages', 'fetch', '--profile', file, '--rootfs', targetRoot(dir, 'amd64'), '--cache', cache], { env });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/(?:^|\n)error: the profile names remote payload sources but has no lock file .*nolock\.lock\.yaml\nhint: .*iso-build packages lock.*\n$/);
    expect(runCli(['packages', 'lock', '--profile', file, '--cache', cache], { env }).code).toBe(0);
    payloadProfile(dir, 'nolock', { architecture: 'amd64', images: [{ ref: `${plain.host}/team/app:1.0` }] });
    const stale = runCli(['packages', 'fetch', '--profile', file, '--rootfs', targetRoot(dir, 'amd64'), '--cache', cache], { env });
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/(?:^|\n)error: .*nolock\.lock\.yaml does not match the profile: .*app:1\.0.*\nhint: .*--update-lock.*\n$/);
    const updated = runCli(['packages', 'fetch', '--profile', file, '--rootfs', targetRoot(dir, 'amd64'), '--cache', cache, '--update-lock'], { env });
    expect(updated.stderr).not.toMatch(/^(error|warning)/m);
    expect(updated.code).toBe(0);
    expect(readFileSync(join(dir, 'nolock.lock.yaml'), 'utf8')).toContain(multi.manifests.amd64);
  });

  it('pins a chart from an OCI registry (oci://) by semver range and takes its chart layer', () => {
    const cache = join(dir, 'cache-oci-chart');
    // Every tag holds the same 0.1.0 .tgz: the Chart.yaml check must then refuse the one resolved as 0.1.5.
    const file = payloadProfile(dir, 'oci-chart', { charts: [{ repo: `oci://${plain.host}/charts`, name: 'hello', version: '~0.1.0' }] });
    const lock = runCli(['packages', 'lock', '--profile', file, '--cache', cache], { env });
    expect(lock.stderr).not.toMatch(/^(error|warning)/m);
    expect(lock.code).toBe(0);
    const locked = parse(readFileSync(join(dir, 'oci-chart.lock.yaml'), 'utf8')) as { charts: { resolved: string; sha256: string; url: string }[] };
    expect(locked.charts[0]).toMatchObject({ resolved: '0.1.5', sha256: sha256hex(chartTgz) });
    expect(locked.charts[0]!.url).toMatch(new RegExp(`^oci://${plain.host.replace(/\./g, '\\.')}/charts/hello@sha256:[0-9a-f]{64}$`));
    const out = join(dir, 'out-oci-chart');
    const fetch = runCli(['packages', 'fetch', '--profile', file, '--rootfs', targetRoot(dir, 'amd64'), '--cache', cache, '--output', out], { env });
    expect(fetch.code).toBe(2);
    expect(fetch.stderr).toMatch(/(?:^|\n)error: packages\.charts: chart .*has version "0\.1\.0", expected "0\.1\.5"\nhint: .+\n$/);

    const exact = payloadProfile(dir, 'oci-chart-exact', { charts: [{ repo: `oci://${plain.host}/charts`, name: 'hello', version: '0.1.0' }] });
    expect(runCli(['packages', 'lock', '--profile', exact, '--cache', cache], { env }).code).toBe(0);
    const good = runCli(['packages', 'fetch', '--profile', exact, '--rootfs', targetRoot(dir, 'amd64'), '--cache', cache, '--output', join(dir, 'out-oci-exact')], { env });
    expect(good.stderr).not.toMatch(/^(error|warning)/m);
    expect(good.code).toBe(0);
    expect(readFileSync(join(dir, 'out-oci-exact/opt/novasphere/packages/charts/hello-0.1.0.tgz')).equals(chartTgz)).toBe(true);
  });
  it('imageArchive: bundle writes every pulled image into one archive (docker-archive or OCI) that containerd imports whole', needs(requireRoot('containerd'), requireTools('containerd', 'ctr')), async () => {
    const cache = join(dir, 'cache-bundle');
    const file = payloadProfile(dir, 'bundle', {
      architecture: 'amd64',
      imageArchive: 'bundle',
      images: [{ ref: `${plain.host}/team/app:1.0` }, { ref: `${plain.host}/team/app:1.0`, platform: 'linux/arm64' }, { ref: `${plain.host}/team/tool:2.0` }],
    });
    expect(runCli(['packages', 'lock', '--profile', file, '--cache', cache], { env }).code).toBe(0);
    const out = join(dir, 'out-bundle');
    const fetch = runCli(['packages', 'fetch', '--profile', file, '--rootfs', targetRoot(dir, 'amd64'), '--cache', cache, '--output', out], { env });
    expect(fetch.stderr).not.toMatch(/^(error|warning)/m);
    expect(fetch.code).toBe(0);
    const images = join(out, 'opt/novasphere/packages/images');
    expect(readdirSync(images).sort()).toEqual(['bundle-images.tar', 'images.txt']);
    const bundle = join(images, 'bundle-images.tar');
    // Read back with GNU tar: one manifest.json entry per image, each layer once.
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', bundle, 'manifest.json'], { encoding: 'utf8' })) as { RepoTags: string[]; Layers: string[] }[];
    expect(manifest.map((m) => m.RepoTags)).toEqual([[`${plain.host}/team/app:1.0`], [`${plain.host}/team/app:1.0`], [`${plain.host}/team/tool:2.0`]]);
    const members = execFileSync('tar', ['-tf', bundle], { encoding: 'utf8' }).trim().split('\n');
    expect(new Set(members).size).toBe(members.length);
    expect(members).toEqual(expect.arrayContaining(manifest.flatMap((m) => m.Layers)));
    const txt = readFileSync(join(images, 'images.txt'), 'utf8');
    expect(txt).toContain(`${plain.host}/team/tool:2.0 ${single.manifests.amd64} bundle-images.tar\n`);
    expect(txt).toContain(`${plain.host}/team/app:1.0 ${multi.manifests.arm64} bundle-images.tar\n`);
    expect(runCli(['packages', 'verify', join(out, 'opt/novasphere/packages')]).code).toBe(0);
    // The same bytes from the same cache (the ISO is reproducible).
    const again = join(dir, 'out-bundle-2');
    expect(runCli(['--quiet', 'packages', 'fetch', '--profile', file, '--rootfs', targetRoot(dir, 'amd64'), '--cache', cache, '--output', again], { env }).code).toBe(0);
    expect(sha256hex(readFileSync(join(again, 'opt/novasphere/packages/images/bundle-images.tar')))).toBe(sha256hex(readFileSync(bundle)));

    // The same as an OCI bundle: one index.json with a descriptor per image.
    const ociFile = payloadProfile(dir, 'oci-bundle', {
      architecture: 'amd64',
      imageArchive: 'bundle',
      images: [{ ref: `${plain.host}/team/app:1.0`, format: 'oci-archive' }, { ref: `${plain.host}/team/tool:2.0`, format: 'oci-archive' }],
    });
    expect(runCli(['packages', 'lock', '--profile', ociFile, '--cache', cache], { env }).code).toBe(0);
    const ociOut = join(dir, 'out-oci-bundle');
    const ociFetch = runCli(['--quiet', 'packages', 'fetch', '--profile', ociFile, '--rootfs', targetRoot(dir, 'amd64'), '--cache', cache, '--output', ociOut], { env });
    expect(ociFetch.stderr).toBe('');
    expect(ociFetch.code).toBe(0);
    const ociBundle = join(ociOut, 'opt/novasphere/packages/images/oci-bundle-images.tar');
    const index = JSON.parse(execFileSync('tar', ['-xOf', ociBundle, 'index.json'], { encoding: 'utf8' })) as { manifests: { digest: string }[] };
    expect(index.manifests.map((m) => m.digest)).toEqual([multi.manifests.amd64, single.manifests.amd64]);
    expect(runCli(['packages', 'verify', join(ociOut, 'opt/novasphere/packages')]).code).toBe(0);

    const containerd = await startContainerd();
    try {
      for (const archive of [bundle, ociBundle]) {
        const imported = spawnSync('ctr', ['--address', containerd.socket, '-n', 'k8s.io', 'images', 'import', '--all-platforms', archive], { encoding: 'utf8' });
        expect(imported.status, imported.stderr).toBe(0);
        expect(containerd.images()).toEqual(expect.arrayContaining([`${plain.host}/team/app:1.0`, `${plain.host}/team/tool:2.0`]));
        spawnSync('ctr', ['--address', containerd.socket, '-n', 'k8s.io', 'images', 'rm', `${plain.host}/team/app:1.0`, `${plain.host}/team/tool:2.0`]);
        expect(containerd.images(), 'removed before the next import').toEqual([]);
      }
    } finally {
      await containerd.stop();
      removeTempDirs(); // containerd's root, state and socket dir
    }
  });
});
