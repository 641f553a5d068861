/** SOURCE_DATE_EPOCH: the environment, else the release tag's commit time, else HEAD's, else the profile, else now. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sourceDateEpoch } from '../../src/pipeline/release-epoch.js';
import type { Profile } from '../../src/profile/schema.js';

const profile = (dir: string, epoch?: number): Profile => ({ dir, sourceDateEpoch: epoch }) as unknown as Profile;

describe('sourceDateEpoch', () => {
  let repo: string;
  let plain: string;
  const saved = process.env.SOURCE_DATE_EPOCH;

  const git = (args: string[], date: number): void => {
    const stamp = `@${date} +0000`;
    execFileSync('git', ['-C', repo, ...args], {
      env: { ...process.env, GIT_AUTHOR_DATE: stamp, GIT_COMMITTER_DATE: stamp, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' },
      stdio: 'ignore',
    });
  };

  beforeAll(() => {
    repo = mkdtempSync(join(tmpdir(), 'epoch-git-'));
    plain = mkdtempSync(join(tmpdir(), 'epoch-plain-'));
    git(['init', '-q'], 0);
    writeFileSync(join(repo, 'a'), '1');
    git(['add', 'a'], 0);
    git(['commit', '-q', '-m', 'release'], 1_600_000_000);
    git(['tag', 'v1.0.0'], 1_600_000_000);
    writeFileSync(join(repo, 'a'), '2');
    git(['commit', '-q', '-am', 'later'], 1_650_000_000);
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = saved;
  });
  afterAll(() => {
    rmSync(repo, { recursive: true, force: true });
    rmSync(plain, { recursive: true, force: true });
  });

  it('takes SOURCE_DATE_EPOCH from the environment first, and rejects a non-number', async () => {
    process.env.SOURCE_DATE_EPOCH = '1234';
    expect(await sourceDateEpoch(profile(repo, 99), 'v1.0.0')).toBe(1234);
    process.env.SOURCE_DATE_EPOCH = 'yesterday';
    await expect(sourceDateEpoch(profile(repo), 'v1.0.0')).rejects.toThrow(/is not a number of seconds/);
  });

  it('else the commit time of the release tag, else of HEAD (before the profile)', async () => {
    delete process.env.SOURCE_DATE_EPOCH;
    expect(await sourceDateEpoch(profile(repo, 99), 'v1.0.0')).toBe(1_600_000_000);
    expect(await sourceDateEpoch(profile(repo, 99), 'v2.0.0')).toBe(1_650_000_000);
  });

  it('else the profile, else now', async () => {
    delete process.env.SOURCE_DATE_EPOCH;
    expect(await sourceDateEpoch(profile(plain, 99), 'v1.0.0')).toBe(99);
    const now = Math.floor(Date.now() / 1000);
    const warnings: string[] = [];
    expect(Math.abs((await sourceDateEpoch(profile(plain), 'v1.0.0', process.env, (w) => warnings.push(w))) - now)).toBeLessThan(5);
    expect(warnings).toEqual([expect.stringMatching(/^SOURCE_DATE_EPOCH: git gives no commit time .* using the current time \(\d+\); this build is not reproducible/)]);
  });

  it('reads a checkout owned by another user (safe.directory, as in a CI container)', async () => {
    delete process.env.SOURCE_DATE_EPOCH;
    execFileSync('chown', ['-R', '12345:12345', repo]);
    try {
      const warnings: string[] = [];
      expect(await sourceDateEpoch(profile(repo), 'v1.0.0', process.env, (w) => warnings.push(w))).toBe(1_600_000_000);
      expect(warnings).toEqual([]);
    } finally {
      execFileSync('chown', ['-R', `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`, repo]);
    }
  });
});
