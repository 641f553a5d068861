/**
 * pool/ left in the base ISO (left-in-base.ts): on the 22.04-like fixture (dists/ + pool/, as Ubuntu's media), a build
 * without host hooks does not extract pool/, yet its ISO holds the same pool files and the same md5sum.txt as a build
 * whose post-build hook (which gets the tree's path) makes it extract the whole tree. Read back with xorriso.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, REPO, findmntUnder, runCli, sh, tempDir } from '../support/cli.js';
import { needs, requireRoot, requireTools } from '../support/needs.js';
import { FIXTURE_OVERLAY, writeProfile } from '../support/profile.js';

const VERSION = 'v1.0.0';

function jammy(): { path: string; sha256: string } {
  const path = join(FIXTURES, 'fixture-jammy.iso');
  if (!existsSync(path)) execFileSync(join(REPO, 'scripts/make-fixture-iso'), ['--variant', 'jammy'], { cwd: REPO, stdio: 'inherit' });
  const sha256 = /^([0-9a-f]{64}) {2}fixture-jammy\.iso$/m.exec(readFileSync(join(FIXTURES, 'SHA256SUMS'), 'utf8'))?.[1];
  if (!sha256) throw new Error('fixture-jammy.iso is not in fixtures/out/SHA256SUMS');
  return { path, sha256 };
}

describe('pool/ left in the base ISO', needs(requireRoot(), requireTools('xorriso')), () => {
  let dir: string;
  const builds: Record<'partial' | 'whole', { iso: string; log: string; work: string }> = {} as never;

  beforeAll(() => {
    dir = tempDir('left-in-base');
    const base = jammy();
    writeFileSync(join(dir, 'list-pool.sh'), 'find "$ISO_BUILD_ISO_TREE/pool" -type f | wc -l > "$(dirname "$ISO_BUILD_OUTPUT_ISO")/../pool-count"\n');
    for (const kind of ['partial', 'whole'] as const) {
      const profile = writeProfile(dir, kind, {
        name: 'left',
        base,
        rootfs: { strategy: 'layer' },
        overlay: [FIXTURE_OVERLAY],
        ...(kind === 'whole' ? { hooks: { 'post-build': ['list-pool.sh'] } } : {}),
      });
      const work = join(dir, `work-${kind}`);
      const res = runCli([VERSION, '--profile', profile, '--work', work, '--output', join(dir, `out-${kind}`)], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
      expect(res.code, res.stderr).toBe(0);
      expect(findmntUnder(work)).toEqual([]);
      builds[kind] = { iso: join(dir, `out-${kind}`, `left-${VERSION}.iso`), log: readFileSync(join(work, 'build.log'), 'utf8'), work };
    }
  }, 600_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const poolFiles = (iso: string): string[] =>
    sh('xorriso', ['-indev', iso, '-find', '/pool', '-type', 'f'])
      .split('\n')
      .filter(Boolean)
      .map((line) => line.replace(/^'(.*)'$/, '$1')) // -find quotes each path
      .sort();
  const fileOf = (iso: string, path: string): string => {
    const to = join(dir, `${iso.split('/').slice(-2, -1)[0]}-${path.replaceAll('/', '_')}`);
    sh('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', path, to]);
    return readFileSync(to, 'utf8');
  };
  const extracted = (work: string): string[] => readdirSync(join(work, 'stage-cache')).filter((e) => e.startsWith('iso-'));

  it('extracts pool/ only when a host hook gets the tree, and says which in the log', () => {
    expect(builds.partial.log).toMatch(/^extract: pool \(\d+ files, \d+ bytes\) left in the base ISO/m);
    expect(builds.whole.log).toMatch(/^extract: the whole tree \(a pre-repack or post-build hook/m);
    const [partialEntry] = extracted(builds.partial.work);
    expect(existsSync(join(builds.partial.work, 'stage-cache', partialEntry!, 'tree', 'pool'))).toBe(false);
    expect(existsSync(join(builds.partial.work, 'stage-cache', partialEntry!, 'tree', 'dists'))).toBe(true);
    // The hook saw every pool file.
    expect(Number(readFileSync(join(dir, 'pool-count'), 'utf8'))).toBe(poolFiles(builds.whole.iso).length);
  });

  it('gives an ISO with the same pool files and md5sum.txt either way', () => {
    const pool = poolFiles(jammy().path);
    expect(pool.length).toBeGreaterThan(0);
    expect(poolFiles(builds.partial.iso)).toEqual(pool);
    expect(poolFiles(builds.whole.iso)).toEqual(pool);
    const partial = fileOf(builds.partial.iso, '/md5sum.txt');
    const whole = fileOf(builds.whole.iso, '/md5sum.txt');
    expect(partial).toBe(whole);
    for (const f of pool) expect(partial).toContain(`  .${f}\n`);
  });
});
