/**
 * A fixture build whose payload comes from a real registry (docker-registry + skopeo) and a real HTTP server (a Helm
 * repository and a file), pinned by `packages lock`; then the same build with the warm cache inside `unshare --net`
 * (no network at all) must succeed and give the same ISO bytes. The payload is read back from the ISO with xorriso and
 * unsquashfs.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runCliAsync, sh, tempDir, type CliResult } from '../support/cli.js';
import { needs, requireFixtures, requireRoot, requireTools } from '../support/needs.js';
import { fixtureProfile, writeProfile } from '../support/profile.js';
import { homeWithInsecure, makeOciLayout, push, runCliOffline, sha256hex as sha, startRegistry, type OciImage, type Registry } from './payload-servers.js';

const VERSION = 'v1.0.0';

function cli(args: string[], env: Record<string, string>, offline = false): Promise<CliResult> {
  const withEpoch = { SOURCE_DATE_EPOCH: '1700000000', ...env };
  return offline ? runCliOffline(args, withEpoch) : runCliAsync(args, { env: withEpoch });
}

describe(
  'a fixture build with its payload from a registry and an HTTP server',
  needs(requireRoot(), requireFixtures(), requireTools('skopeo', 'docker-registry', 'unshare', 'xorriso', 'unsquashfs')),
  () => {
  let dir: string;
  let registry: Registry;
  let server: http.Server;
  let image: OciImage;
  let env: Record<string, string>;
  const chart = readFileSync(join(REPO, 'test/fixtures/packages/hello-chart-0.1.0.tgz'));
  const tool = Buffer.from('#!/bin/sh\necho tool\n');
  let online: CliResult;
  let offline: CliResult;

  beforeAll(async () => {
    dir = tempDir('payload-build');
    registry = await startRegistry(join(dir, 'registry'));
    env = { HOME: homeWithInsecure(join(dir, 'home'), [registry.host]), ISO_BUILD_FETCH_BACKOFF_MS: '50', ISO_BUILD_FETCH_RETRIES: '1' };
    image = makeOciLayout(join(dir, 'img'), '1.0', ['amd64', 'arm64']);
    push(image, `${registry.host}/team/app:1.0`, env);
    const index = stringify({ apiVersion: 'v1', entries: { hello: [{ name: 'hello', version: '0.1.0', urls: ['hello-0.1.0.tgz'], digest: sha(chart) }] } });
    const routes: Record<string, Buffer> = { '/charts/index.yaml': Buffer.from(index), '/charts/hello-0.1.0.tgz': chart, '/files/tool.sh': tool };
    server = http.createServer((req, res) => {
      const body = routes[req.url ?? ''];
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'Content-Length': body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const profile = writeProfile(
      dir,
      'payload-build',
      fixtureProfile('payload-build', {
        packages: {
          installScript: join(REPO, 'profiles/templates/install.sh.hbs'),
          images: [{ ref: `${registry.host}/team/app:1.0` }],
          charts: [{ repo: `${url}/charts`, name: 'hello', version: '^0.1.0' }],
          files: [{ url: `${url}/files/tool.sh`, sha256: sha(tool), dest: 'bin/tool.sh', mode: '0755' }],
          k3sAirgap: true,
        },
      }),
    );
    const cache = join(dir, 'cache');
    const lock = await runCliAsync(['packages', 'lock', '--profile', profile, '--cache', cache], { env });
    if (lock.code !== 0) throw new Error(`packages lock failed: ${lock.stderr}`);
    const build = (n: number, cut: boolean): Promise<CliResult> =>
      cli([VERSION, '--profile', profile, '--output', join(dir, `r${n}`), '--work', join(dir, `w${n}`), '--cache', cache], env, cut);
    online = await build(1, false);
    // Nothing can be reached from here: the registry and the HTTP server are in the host's network namespace.
    offline = await build(2, true);
  }, 900_000);

  afterAll(async () => {
    await registry?.stop();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('builds with the pulled image, the repository chart and the file in the payload', () => {
    // progress goes to stderr (issue 17); no error line among it (an unsigned-SUMS warning is expected)
    expect(online.stderr).not.toMatch(/^error:/m);
    expect(online.code).toBe(0);
    const iso = join(dir, 'r1', `payload-build-${VERSION}.iso`);
    sh('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/casper/filesystem.squashfs', join(dir, 'fs.squashfs')]);
    const root = join(dir, 'rootfs');
    sh('unsquashfs', ['-q', '-no-progress', '-d', root, join(dir, 'fs.squashfs'), 'opt/novasphere', 'var/lib/rancher']);
    const payload = join(root, 'opt/novasphere/packages');
    expect(readFileSync(join(payload, 'charts/hello-0.1.0.tgz')).equals(chart)).toBe(true);
    expect(readFileSync(join(payload, 'files/bin/tool.sh')).equals(tool)).toBe(true);
    expect(readFileSync(join(payload, 'images/images.txt'), 'utf8')).toContain(`${registry.host}/team/app:1.0 ${image.manifests.amd64} app_1.0_amd64.tar\n`);
    expect(existsSync(join(root, 'var/lib/rancher/k3s/agent/images/app_1.0_amd64.tar'))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(dir, 'r1', 'build-manifest.json'), 'utf8')) as { payload: { kind: string; name: string; digest: string; source: string; file: string }[] };
    // Every payload item, in kind order, each with its file below the payload directory.
    expect(manifest.payload).toEqual([
      { kind: 'image', name: `${registry.host}/team/app:1.0 (linux/amd64)`, digest: image.manifests.amd64, source: `docker://${registry.host}/team/app:1.0`, file: 'images/app_1.0_amd64.tar' },
      { kind: 'chart', name: 'hello 0.1.0', digest: `sha256:${sha(chart)}`, source: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/charts\/hello-0\.1\.0\.tgz$/), file: 'charts/hello-0.1.0.tgz' },
      { kind: 'file', name: 'bin/tool.sh', digest: `sha256:${sha(tool)}`, source: expect.stringMatching(/\/files\/tool\.sh$/), file: 'files/bin/tool.sh' },
    ]);
    const notes = readFileSync(join(dir, 'r1', 'RELEASE-NOTES.md'), 'utf8');
    expect(notes).toContain(`| image | \`${registry.host}/team/app:1.0 (linux/amd64)\` | \`${image.manifests.amd64}\` | docker://${registry.host}/team/app:1.0 |`);
    expect(notes).toContain(`| file | \`bin/tool.sh\` | \`sha256:${sha(tool)}\` |`);
  });

  it('builds again offline from the warm cache, to the same ISO bytes', () => {
    // progress goes to stderr (issue 17); no error line among it (an unsigned-SUMS warning is expected)
    expect(offline.stderr).not.toMatch(/^error:/m);
    expect(offline.code).toBe(0);
    const a = readFileSync(join(dir, 'r1', `payload-build-${VERSION}.iso`));
    const b = readFileSync(join(dir, 'r2', `payload-build-${VERSION}.iso`));
    expect(sha(b)).toBe(sha(a));
  });
  },
);
