/** A profile whose base is a URL: downloaded once (served here on loopback), verified, then read from the cache by sha256. */
import { createReadStream, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, fixtureIso, fixtureSha, runCliAsync, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';

describe('base ISO from a URL', needs(requireRoot(), requireFixtures()), () => {
  let dir: string;
  let server: Server;
  let requests = 0;
  let profile: string;

  beforeAll(async () => {
    dir = tempDir('download');
    server = createServer((req, res) => {
      requests++;
      if (req.url !== '/fixture-single.iso') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': String(statSync(fixtureIso('single')).size) });
      createReadStream(fixtureIso('single')).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    profile = join(dir, 'url.yaml');
    writeFileSync(
      profile,
      `name: url-test\nbase:\n  url: http://127.0.0.1:${port}/fixture-single.iso\n  sha256: ${fixtureSha('single')}\nrootfs:\n  compression: gzip\n` +
        `overlay:\n  - source: ${join(REPO, 'overlay/fixture/rootfs')}\n    target: /\n`,
    );
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('downloads, verifies and caches by sha256; the second build does not download', async () => {
    const cache = join(dir, 'cache');
    const args = (n: number): string[] => ['v1.0.0', '--profile', profile, '--cache', cache, '--output', join(dir, `out${n}`), '--work', join(dir, `work${n}`)];
    const first = await runCliAsync(args(1));
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(requests).toBe(1);
    expect(existsSync(join(cache, 'base-iso', `${fixtureSha('single')}.iso`))).toBe(true);
    const second = await runCliAsync(args(2));
    expect(second.code).toBe(0);
    expect(requests).toBe(1);
  });

  it('a URL that answers 404 is a clear user error', async () => {
    writeFileSync(profile.replace('url.yaml', 'bad.yaml'), `name: bad\nbase:\n  url: http://127.0.0.1:${(server.address() as AddressInfo).port}/missing.iso\n  sha256: ${'b'.repeat(64)}\n`);
    const res = await runCliAsync(['v1.0.0', '--profile', join(dir, 'bad.yaml'), '--cache', join(dir, 'cache2'), '--output', join(dir, 'o'), '--work', join(dir, 'w')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^error: cannot download the base ISO from http:\/\/127\.0\.0\.1:\d+\/missing\.iso: HTTP 404/);
  });
});
