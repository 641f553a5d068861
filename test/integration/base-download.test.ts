/** A profile whose base is a URL: downloaded once (served here on loopback), verified, then read from the cache by sha256. */
import { createReadStream, existsSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureIso, fixtureSha, runCliAsync, tempDir } from '../support/cli.js';
import { needs, requireFixtures, requireRoot } from '../support/needs.js';
import { FIXTURE_OVERLAY, writeProfile } from '../support/profile.js';

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
    profile = writeProfile(dir, 'url', {
      name: 'url-test',
      base: { url: `http://127.0.0.1:${port}/fixture-single.iso`, sha256: fixtureSha('single') },
      rootfs: { compression: 'gzip' },
      overlay: [FIXTURE_OVERLAY],
    });
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('downloads, verifies and caches by sha256; the second build does not download', async () => {
    const cache = join(dir, 'cache');
    const args = (n: number): string[] => ['v1.0.0', '--profile', profile, '--cache', cache, '--output', join(dir, `out${n}`), '--work', join(dir, `work${n}`)];
    const first = await runCliAsync(args(1));
    expect(first.stderr).not.toMatch(/^(error|internal error)/m);
    expect(first.code).toBe(0);
    expect(requests).toBe(1);
    expect(existsSync(join(cache, 'base-iso', `${fixtureSha('single')}.iso`))).toBe(true);
    const second = await runCliAsync(args(2));
    expect(second.code).toBe(0);
    expect(requests).toBe(1);
  });

  it('a URL that answers 404 is a clear user error', async () => {
    const bad = writeProfile(dir, 'bad', { name: 'bad', base: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/missing.iso`, sha256: 'b'.repeat(64) } });
    const res = await runCliAsync(['v1.0.0', '--profile', bad, '--cache', join(dir, 'cache2'), '--output', join(dir, 'o'), '--work', join(dir, 'w')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^error: cannot download the base ISO from http:\/\/127\.0\.0\.1:\d+\/missing\.iso: HTTP 404/m);
  });
});
