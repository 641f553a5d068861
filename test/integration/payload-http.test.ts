/**
 * Payload charts and files over HTTP from a real server started here on 127.0.0.1 (node:http): a Helm repository
 * (index.yaml + chart .tgz made with tar) and a file server that drops the first connection mid-download (the CLI
 * must resume with a Range request). Then the same payload again from the warm cache inside `unshare -n` (no network
 * at all): the same bytes. Wrong sha256, a chart version not in the index, 401 and 500 are one-line errors with a
 * hint (exit 2 input, 1 network) that leave nothing in the cache.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runCliAsync, tempDir } from '../support/cli.js';
import { needs, requireRoot, requireTools } from '../support/needs.js';
import { cacheFiles, payloadProfile, runCliOffline, sha256hex, targetRoot, type PayloadPackages } from './payload-servers.js';

function chartTgz(dir: string, version: string): Buffer {
  const src = join(dir, `chart-${version}`);
  mkdirSync(join(src, 'hello/templates'), { recursive: true });
  writeFileSync(
    join(src, 'hello/Chart.yaml'),
    stringify({
      apiVersion: 'v2',
      name: 'hello',
      version,
      appVersion: '1.0',
      description: 'test chart',
      type: 'application',
      kubeVersion: '>=1.25.0-0',
      keywords: ['test'],
      annotations: { 'category': 'Testing' },
      dependencies: [{ name: 'dep', version: '1.x', repository: 'https://example.invalid/charts', condition: 'dep.enabled' }],
      notAHelmField: 'dropped',
    }),
  );
  writeFileSync(join(src, 'hello/templates/cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n');
  return execFileSync('sh', ['-c', `tar --format=ustar --mtime=@0 --owner=0 --group=0 --numeric-owner --sort=name -C "${src}" -cf - hello | gzip -n`]);
}

interface Server {
  url: string;
  ranges: string[];
  hits: Record<string, number>;
  close: () => Promise<void>;
}

async function startServer(routes: Record<string, Buffer>, opts: { dropFirst: string }): Promise<Server> {
  const ranges: string[] = [];
  const hits: Record<string, number> = {};
  let dropped = false;
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    hits[path] = (hits[path] ?? 0) + 1;
    if (path === '/files/secret') return void res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="t"' }).end('no');
    if (path === '/files/broken') return void res.writeHead(500).end('oops');
    const body = routes[path];
    if (!body) return void res.writeHead(404).end('not found');
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      ranges.push(`${path} ${req.headers.range}`);
      const start = Number(range[1]);
      res.writeHead(206, { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
      return void res.end(body.subarray(start));
    }
    res.writeHead(200, { 'Content-Length': body.length, 'Accept-Ranges': 'bytes' });
    if (path === opts.dropFirst && !dropped) {
      dropped = true;
      // A third of the file, then the connection dies.
      res.write(body.subarray(0, Math.floor(body.length / 3)), () => setTimeout(() => req.socket.destroy(), 50));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, ranges, hits, close: () => new Promise((r) => server.close(() => r())) };
}

// Progress lines (stderr) come before the one error line and its hint: the errors are matched as the end of stderr.
const ENV = { ISO_BUILD_FETCH_BACKOFF_MS: '50', ISO_BUILD_FETCH_RETRIES: '2' };

describe('payload charts and files over HTTP', needs(requireTools('tar', 'gzip', 'zstd')), () => {
  let dir: string;
  let server: Server;
  let big: Buffer;
  let bundle: Buffer;
  let goodProfile: string;
  let goodCache: string;
  let onlinePayload: string;
  const charts: Record<string, Buffer> = {};

  beforeAll(async () => {
    dir = tempDir('payload-http');
    big = randomBytes(3 << 20);
    for (const v of ['0.1.0', '0.1.5', '0.2.0', '0.10.0']) charts[v] = chartTgz(dir, v);
    const index = {
      apiVersion: 'v1',
      entries: { hello: Object.entries(charts).map(([version, tgz]) => ({ name: 'hello', version, urls: [`hello-${version}.tgz`], digest: sha256hex(tgz) })) },
    };
    // An air-gap image bundle as k3s publishes them: an image archive compressed with zstd.
    bundle = execFileSync('zstd', ['-q', '-c', join(REPO, 'test/fixtures/packages/hello-image-oci.tar')]);
    const routes: Record<string, Buffer> = {
      '/repo/index.yaml': Buffer.from(stringify(index)),
      '/files/big.bin': big,
      '/rel/v1.0%2Bx/airgap-images.tar.zst': bundle,
      '/rel/v1.0%2Bx/sha256sum.txt': Buffer.from(`${sha256hex(big)}  other\n${sha256hex(bundle)}  airgap-images.tar.zst\n`),
      '/rel/install.sh': Buffer.from('#!/bin/sh\necho install\n'),
    };
    for (const [v, tgz] of Object.entries(charts)) routes[`/repo/hello-${v}.tgz`] = tgz;
    server = await startServer(routes, { dropFirst: '/files/big.bin' });
  });

  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('locks chart ranges and files, resumes a dropped download, and writes the payload from the warm cache', async () => {
    const cache = join(dir, 'cache');
    goodCache = cache;
    const file = payloadProfile(dir, 'good', {
      charts: [
        { repo: `${server.url}/repo`, name: 'hello', version: '~0.1.0' },
        { repo: `${server.url}/repo/`, name: 'hello', version: '0.10.0' },
        { repo: `${server.url}/repo`, name: 'hello', version: '0.2.0' },
        // the version ~0.1.0 resolves to as well: one file and one index entry in the payload
        { repo: `${server.url}/repo`, name: 'hello', version: '0.1.5' },
      ],
      files: [
        { url: `${server.url}/files/big.bin`, sha256: sha256hex(big), dest: 'big/big.bin', mode: '0755' },
        { url: `${server.url}/rel/v1.0%2Bx/airgap-images.tar.zst`, sha256sums: `${server.url}/rel/v1.0%2Bx/sha256sum.txt`, dest: 'k3s/airgap-images.tar.zst', k3sImages: true },
        { url: `${server.url}/rel/install.sh`, dest: 'k3s/install.sh', mode: '0755' },
      ],
      k3sAirgap: true,
    });
    const lock = await runCliAsync(['packages', 'lock', '--profile', file, '--cache', cache], { env: ENV });
    expect(lock.stderr).not.toMatch(/^(error|warning)/m);
    expect(lock.code).toBe(0);
    // CI=true: plain progress lines on stderr, a start and an end per download with its size and rate
    expect(lock.stderr).toMatch(/^fetching big\/big\.bin$/m);
    expect(lock.stderr).toMatch(/^fetched big\/big\.bin: 3\.0 MiB in \d+\.\ds(, \S+ \S+\/s)?$/m);
    expect(lock.stdout).toMatch(/good\.lock\.yaml: 0 images, 4 charts, 3 files\n$/);
    expect(server.ranges).toEqual([expect.stringMatching(/^\/files\/big\.bin bytes=[1-9]\d*-$/)]);
    const locked = parse(readFileSync(join(dir, 'good.lock.yaml'), 'utf8')) as { charts: { version: string; resolved: string; sha256: string; url: string }[]; files: { sha256: string; size: number }[] };
    expect(locked.charts.map((c) => [c.version, c.resolved])).toEqual([
      ['0.1.5', '0.1.5'],
      ['0.10.0', '0.10.0'],
      ['0.2.0', '0.2.0'],
      ['~0.1.0', '0.1.5'],
    ]);
    expect(locked.charts.find((c) => c.resolved === '0.1.5')).toMatchObject({ sha256: sha256hex(charts['0.1.5']!), url: `${server.url}/repo/hello-0.1.5.tgz` });
    expect(locked.files).toEqual([
      { url: `${server.url}/files/big.bin`, dest: 'big/big.bin', sha256: sha256hex(big), size: big.length },
      { url: `${server.url}/rel/v1.0%2Bx/airgap-images.tar.zst`, dest: 'k3s/airgap-images.tar.zst', sha256: sha256hex(bundle), size: bundle.length },
      { url: `${server.url}/rel/install.sh`, dest: 'k3s/install.sh', sha256: sha256hex(Buffer.from('#!/bin/sh\necho install\n')), size: 23 },
    ]);

    const out = join(dir, 'out-online');
    const hitsBefore = { ...server.hits };
    const fetch = await runCliAsync(['packages', 'fetch', '--profile', file, '--rootfs', targetRoot(dir), '--cache', cache, '--output', out], { env: ENV });
    expect(fetch.stderr).not.toMatch(/^(error|warning)/m);
    expect(fetch.code).toBe(0);
    // Cache hits say so; nothing claims to be fetched; progress stays off stdout.
    for (const label of ['big/big.bin', 'k3s/install.sh', 'hello-0.1.5.tgz', 'hello-0.10.0.tgz']) expect(fetch.stderr).toContain(`cached ${label}\n`);
    expect(fetch.stderr).not.toMatch(/^fetch(ing|ed) /m);
    expect(fetch.stdout).toMatch(/^\S+packages: 0 \.debs, 0 images, 3 charts, \d+ files\n$/);
    expect(readdirSync(join(out, 'opt/novasphere/packages/charts')).sort()).toEqual(['hello-0.1.5.tgz', 'hello-0.10.0.tgz', 'hello-0.2.0.tgz', 'index.yaml']);
    // The lock made the cache warm: the fetch downloaded nothing.
    expect(server.hits).toEqual(hitsBefore);
    const payload = join(out, 'opt/novasphere/packages');
    expect(readFileSync(join(payload, 'files/big/big.bin')).equals(big)).toBe(true);
    expect(statSync(join(payload, 'files/big/big.bin')).mode & 0o777).toBe(0o755);
    // The zstd bundle is checked as an image archive and goes to k3s's air-gap directory as it is.
    expect(readFileSync(join(out, 'var/lib/rancher/k3s/agent/images/airgap-images.tar.zst')).equals(bundle)).toBe(true);
    expect(readFileSync(join(payload, 'charts/hello-0.1.5.tgz')).equals(charts['0.1.5']!)).toBe(true);
    const index = parse(readFileSync(join(payload, 'charts/index.yaml'), 'utf8')) as { entries: { hello: Record<string, unknown>[] } };
    expect(index.entries.hello.map((e) => e.version)).toEqual(['0.10.0', '0.2.0', '0.1.5']);
    expect(index.entries.hello[0]).toMatchObject({
      type: 'application',
      kubeVersion: '>=1.25.0-0',
      keywords: ['test'],
      annotations: { category: 'Testing' },
      dependencies: [{ name: 'dep', version: '1.x', repository: 'https://example.invalid/charts', condition: 'dep.enabled' }],
      digest: sha256hex(charts['0.10.0']!),
    });
    expect(index.entries.hello[0]).not.toHaveProperty('notAHelmField');
    expect((await runCliAsync(['packages', 'verify', payload])).code).toBe(0);
    // manifest.json says what each item is and where it came from (build-manifest.json and the notes list these).
    const items = (JSON.parse(readFileSync(join(payload, 'manifest.json'), 'utf8')) as { items: { kind: string; name: string; digest: string; source: string; file: string }[] }).items;
    expect(items.map((i) => `${i.kind} ${i.name} ${i.file}`)).toEqual([
      'chart hello 0.1.5 charts/hello-0.1.5.tgz',
      'chart hello 0.10.0 charts/hello-0.10.0.tgz',
      'chart hello 0.2.0 charts/hello-0.2.0.tgz',
      'file big/big.bin files/big/big.bin',
      'file k3s/airgap-images.tar.zst files/k3s/airgap-images.tar.zst',
      'file k3s/install.sh files/k3s/install.sh',
    ]);
    expect(items.find((i) => i.name === 'big/big.bin')).toMatchObject({ digest: `sha256:${sha256hex(big)}`, source: `${server.url}/files/big.bin` });
    expect(items.find((i) => i.name === 'hello 0.1.5')).toMatchObject({ digest: `sha256:${sha256hex(charts['0.1.5']!)}`, source: `${server.url}/repo/hello-0.1.5.tgz` });
    goodProfile = file;
    onlinePayload = payload;
  });

  it('writes the same payload again inside unshare --net from the warm cache; a cold cache fails there as a network error', needs(requireRoot('unshare --net'), requireTools('unshare')), async () => {
    const [file, cache, payload] = [goodProfile, goodCache, onlinePayload];
    expect(file, 'the previous test made the lock and the cache').toBeDefined();
    const offline = join(dir, 'out-offline');
    const cut = await runCliOffline(['--quiet', 'packages', 'fetch', '--profile', file, '--rootfs', targetRoot(dir), '--cache', cache, '--output', offline], ENV);
    expect(cut.stderr, '--quiet: no progress').toBe('');
    expect(cut.code).toBe(0);
    for (const f of ['files/big/big.bin', 'charts/hello-0.1.5.tgz', 'charts/hello-0.2.0.tgz', 'charts/hello-0.10.0.tgz']) {
      expect(readFileSync(join(offline, 'opt/novasphere/packages', f)).equals(readFileSync(join(payload, f))), f).toBe(true);
    }
    // With a cold cache the same offline fetch fails as a network error.
    const cold = await runCliOffline(['packages', 'fetch', '--profile', file, '--rootfs', targetRoot(dir), '--cache', join(dir, 'cold')], ENV);
    expect(cold.code).toBe(1);
    expect(cold.stderr).toMatch(/(?:^|\n)error: .*\nhint: .+\n$/);
  });

  const failures: [string, (url: string) => PayloadPackages, number, RegExp][] = [
    ['wrong-sha', (url) => ({ files: [{ url: `${url}/files/big.bin`, sha256: 'ab'.repeat(32), dest: 'x' }] }), 2, /(?:^|\n)error: file x \S+: sha256 [0-9a-f]{64}, expected (ab){32}\nhint: .+\n$/],
    ['no-version', (url) => ({ charts: [{ repo: `${url}/repo`, name: 'hello', version: '9.9.9' }] }), 2, /(?:^|\n)error: chart hello 9\.9\.9: not in \S+index\.yaml \(it has 0\.1\.0, .*\)\nhint: .+\n$/],
    ['unauthorized', (url) => ({ files: [{ url: `${url}/files/secret`, sha256: 'cd'.repeat(32), dest: 'x' }] }), 2, /(?:^|\n)error: file x \S+: HTTP 401 \(access refused\)\nhint: .+\n$/],
    ['server-error', (url) => ({ files: [{ url: `${url}/files/broken`, sha256: 'ef'.repeat(32), dest: 'x' }] }), 1, /(?:^|\n)error: file x \S+: HTTP 500 \(server error, retried\)\nhint: .+\n$/],
  ];
  for (const [name, packages, code, message] of failures) {
    it(`${name}: exit ${code}, one line with a hint, nothing left in the cache`, async () => {
      const cache = join(dir, `cache-${name}`);
      const file = payloadProfile(dir, name, packages(server.url));
      const res = await runCliAsync(['packages', 'lock', '--profile', file, '--cache', cache], { env: ENV });
      expect(res.stderr).toMatch(message);
      expect(res.code).toBe(code);
      expect(cacheFiles(cache, 'packages')).toEqual([]);
      expect(existsSync(join(dir, `${name}.lock.yaml`))).toBe(false);
    });
  }

  it('retries a 500 before giving up', () => {
    expect(server.hits['/files/broken']).toBe(3);
  });
});
