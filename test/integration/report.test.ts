/**
 * release/<version>/report.html from a real build (layered fixture: several squashfs layers, the fixture profile's
 * payload), opened in headless Chromium (Debian's `chromium`): it loads with no console message and no network
 * request (Chromium's own NetLog), and its DOM shows the stage timeline of build.log, the ISO's parts with the sizes
 * xorriso reports, the payload with digests and the package changes. A screenshot is kept in test-artifacts/.
 * `iso-build report DIR` redraws it. A page with a remote image shows the checks can fail.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { humanBytes } from '../../src/release/report-html.js';
import { REPO, fixtureIso, fixtureSha, runCli, sh, sha256, tempDir, type CliResult } from '../support/cli.js';
import { needs, requireFixtures, requireRoot, requireTools } from '../support/needs.js';

const VERSION = 'v1.0.0';
const ISO = `novasphere-fixture-${VERSION}.iso`;
const ARTIFACTS = join(REPO, 'test-artifacts');
const PKG = join(REPO, 'test/fixtures/packages');

interface PageLoad {
  dom: string;
  /** Text of the DOM without tags, whitespace collapsed. */
  text: string;
  console: string[];
  /** URLs the page asked for (not the browser's own background requests). */
  requests: string[];
}

function chromiumArgs(profileDir: string): string[] {
  // no sandbox: tests run as root; the rest keeps the browser's own background traffic out of the NetLog
  return ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--disable-default-apps', '--disable-extensions', `--user-data-dir=${profileDir}`];
}

function requireChromium(): void {
  const res = spawnSync('chromium', ['--version'], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error('chromium is not installed: run scripts/setup (it installs the Debian package chromium)');
}

/** Loads a file in headless Chromium: its DOM after load, its console messages and the requests it made. */
function load(file: string, scratch: string): PageLoad {
  const netlog = join(scratch, 'netlog.json');
  rmSync(netlog, { force: true });
  const res = spawnSync('chromium', [...chromiumArgs(join(scratch, 'profile')), '--enable-logging=stderr', '--v=0', `--log-net-log=${netlog}`, '--dump-dom', `file://${file}`], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 << 20,
  });
  expect(res.status, res.stderr).toBe(0);
  const consoleLines = res.stderr.split('\n').filter((l) => /:CONSOLE[(:]/.test(l));
  const log = JSON.parse(readFileSync(netlog, 'utf8')) as { events: { params?: { url?: string; initiator?: string } }[] };
  // a page's requests carry its origin ("null" for file:), the browser's own ones "not an origin"
  const requests = [...new Set(log.events.filter((e) => e.params?.url && e.params.initiator !== undefined && e.params.initiator !== 'not an origin').map((e) => e.params!.url!))];
  const text = res.stdout.replace(/<script[\s\S]*?<\/script>/g, ' ').replace(/<[^>]+>/g, ' ').replace(/&#(\d+);/g, (_m, c: string) => String.fromCharCode(Number(c))).replace(/\s+/g, ' ');
  return { dom: res.stdout, text, console: consoleLines, requests };
}

function section(dom: string, id: string): string {
  const m = new RegExp(`<section id="${id}">([\\s\\S]*?)</section>`).exec(dom);
  expect(m, `section ${id}`).not.toBeNull();
  return m![1]!.replace(/<[^>]+>/g, ' ').replace(/&#(\d+);/g, (_m, c: string) => String.fromCharCode(Number(c))).replace(/\s+/g, ' ');
}

describe('build report (report.html) in headless Chromium', needs(requireRoot(), requireFixtures(), requireTools('chromium')), () => {
  let dir: string;
  let rel: string;
  let result: CliResult;
  let page: PageLoad;

  beforeAll(() => {
    requireChromium();
    dir = tempDir('report');
    mkdirSync(join(dir, 'releases/v0.9.0'), { recursive: true });
    writeFileSync(
      join(dir, 'releases/v0.9.0/build-manifest.json'),
      JSON.stringify({ version: 'v0.9.0', packages: [{ name: 'dpkg', version: '1.0.0' }, { name: 'gone-package', version: '2.0' }] }),
    );
    rel = join(dir, 'releases', VERSION);
    result = runCli(
      [VERSION, '--profile', 'profiles/fixture.yaml', '--base', fixtureIso('layered'), '--base-sha256', fixtureSha('layered'), '--output', rel, '--work', join(dir, 'work')],
      { env: { SOURCE_DATE_EPOCH: '1700000000' } },
    );
    if (result.code === 0) page = load(join(rel, 'report.html'), dir);
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the build writes report.html beside the ISO, self-contained, outside SHA256SUMS', () => {
    expect(result.stderr).not.toMatch(/^(error|internal error)/m);
    expect(result.code).toBe(0);
    const html = readFileSync(join(rel, 'report.html'), 'utf8');
    expect(html).not.toMatch(/\b(src|href)=/);
    expect(html).not.toMatch(/url\(/);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`);
    expect(readFileSync(join(rel, 'SHA256SUMS'), 'utf8')).not.toContain('report.html');
    expect(sh('sha256sum', ['-c', 'SHA256SUMS'], rel).match(/: OK$/gm)).toHaveLength(3);
  });

  it('loads in Chromium without console messages or network requests', () => {
    expect(page.console).toEqual([]);
    expect(page.requests).toEqual([]);
    expect(page.dom).toMatch(/<h1>NovaSphere Fixture v1\.0\.0<\/h1>/);
  });

  it('shows the stage timeline of build.log', () => {
    const log = readFileSync(join(dir, 'work/build.log'), 'utf8');
    const timed = [...log.matchAll(/^stage "(.*)" took (\d+\.\d+) s$/gm)].map((m) => ({ title: m[1]!, secs: Number(m[2]) }));
    const timeline = section(page.dom, 'timeline');
    // every stage up to the one that writes the report, in order, with its time
    const publishing = timed.findIndex((t) => t.title === 'Write release artifacts');
    const before = publishing >= 0 ? timed.slice(0, publishing) : timed;
    expect(before.map((t) => t.title)).toEqual(expect.arrayContaining(['Verify base ISO', 'Extract ISO tree', 'Repack rootfs squashfs', 'Verify the new ISO']));
    let at = -1;
    for (const t of before) {
      const i = timeline.indexOf(` ${t.title} `, at + 1);
      expect(i, t.title).toBeGreaterThan(at);
      at = i;
      const shown = t.secs < 10 ? t.secs.toFixed(2) : t.secs.toFixed(1);
      expect(timeline).toContain(`${t.title}: ${shown} s`);
    }
    expect(page.dom).toMatch(/<svg class="timeline"[^>]*>(?:(?!<\/svg>)[\s\S])*<rect /);
  });

  it('shows the size of each part of the ISO: every squashfs layer (sizes as xorriso lists them), debs, images, charts, the rest', () => {
    const sizes = section(page.dom, 'sizes');
    const listing = sh('xorriso', ['-indev', join(rel, ISO), '-find', '/casper', '-name', '*.squashfs', '-exec', 'lsdl', '--']);
    const layers = [...listing.matchAll(/^-\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s+.*'(\/casper\/[^']+\.squashfs)'$/gm)].map((m) => ({ path: m[2]!, bytes: Number(m[1]) }));
    expect(layers.length).toBeGreaterThanOrEqual(3); // the layered fixture's layers and the new top layer
    for (const l of layers) expect(sizes, l.path).toContain(`${l.path} ${humanBytes(l.bytes)}`);
    expect(sizes).toMatch(/the rest of the ISO tree .* \d/);
    expect(sizes).toMatch(/ISO 9660 structures, boot partition and padding/);
    expect(sizes).toMatch(/total \d+(\.\d+)? MiB/);
    expect(sizes).toMatch(/Payload inside the rootfs \(in \/casper\/\S+\.squashfs, uncompressed\)/);
    for (const kind of ['debs', 'container images', 'Helm charts']) expect(sizes).toContain(kind);
    expect(page.dom).toMatch(/<svg class="sizes"[^>]*>(?:(?!<\/svg>)[\s\S])*<rect /);
  });

  it('lists the payload with digests and the package changes against the previous release', () => {
    const payload = section(page.dom, 'payload');
    expect(payload).toContain(`system/novasphere-hello-offline_1.0.0_all.deb`);
    expect(payload).toContain(sha256(join(PKG, 'novasphere-hello-offline_1.0.0_all.deb')));
    expect(payload).toContain(sha256(join(PKG, 'hello-image-oci.tar')));
    expect(payload).toMatch(/registry\.novasphere\.invalid\/test\/hello:1\.0 sha256:[0-9a-f]{64}/);
    expect(payload).toContain(sha256(join(PKG, 'hello-chart-0.1.0.tgz')));
    expect(payload).toMatch(/system\/jq_\S+_amd64\.deb/);
    const changes = section(page.dom, 'changes');
    expect(changes).toMatch(/Against v0\.9\.0/);
    expect(changes).toMatch(/dpkg 1\.0\.0 → 1\.21\.\S+/);
    expect(changes).toMatch(/Removed \(1\) gone-package 2\.0/);
  });

  it('keeps a screenshot of the page (test-artifacts/report.png)', () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'report.png');
    rmSync(shot, { force: true });
    const res = spawnSync('chromium', [...chromiumArgs(join(dir, 'profile-shot')), '--hide-scrollbars', '--window-size=1100,2600', `--screenshot=${shot}`, `file://${join(rel, 'report.html')}`], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(res.status, res.stderr).toBe(0);
    const png = readFileSync(shot);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(1100);
  });

  it('iso-build report DIR redraws it: with --log the whole timeline, without it the same page again', () => {
    const first = readFileSync(join(rel, 'report.html'), 'utf8');
    rmSync(join(rel, 'report.html'));
    const withLog = runCli(['report', rel, '--log', join(dir, 'work/build.log')]);
    expect(withLog.stderr).toBe('');
    expect(withLog.code).toBe(0);
    expect(withLog.stdout).toContain(join(rel, 'report.html'));
    const full = load(join(rel, 'report.html'), dir);
    expect(full.console).toEqual([]);
    expect(section(full.dom, 'timeline')).toMatch(/Write release artifacts: \d+\.\d+ s/);
    expect(section(full.dom, 'timeline')).toMatch(/s for the whole pipeline/);
    const redrawn = readFileSync(join(rel, 'report.html'), 'utf8');
    expect(runCli(['report', rel]).code).toBe(0);
    expect(readFileSync(join(rel, 'report.html'), 'utf8')).toBe(redrawn);
    expect(redrawn).not.toBe(first);
    // still what SHA256SUMS vouches for
    expect(sh('sha256sum', ['-c', 'SHA256SUMS'], rel).match(/: OK$/gm)).toHaveLength(3);
    const bad = runCli(['report', join(dir, 'releases/v0.9.0')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: .*v0\.9\.0\/build-manifest\.json names no ISO$/m);
  });

  it('the browser checks can fail: a remote image is a request without the policy, and a console message with it', () => {
    const html = readFileSync(join(rel, 'report.html'), 'utf8');
    const withImage = html.replace('</h1>', '</h1><img src="http://127.0.0.1:9/pixel.png" alt="">');
    writeFileSync(join(dir, 'remote-open.html'), withImage.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, ''));
    writeFileSync(join(dir, 'remote-csp.html'), withImage);
    expect(load(join(dir, 'remote-open.html'), dir).requests).toEqual(['http://127.0.0.1:9/pixel.png']);
    expect(load(join(dir, 'remote-csp.html'), dir).console.join('\n')).toMatch(/violates the following Content Security Policy/);
    expect(existsSync(join(rel, 'report.html'))).toBe(true);
  });
});
