/**
 * The embedded repository as apt sees it: Release is byte for byte what the real `apt-ftparchive release` writes for
 * the same fields (MD5Sum, SHA1, SHA256, SHA512), and the real apt-get reads the deb822 `.sources` entry, checks
 * InRelease against the Signed-By keyring (and refuses another key or an edited Release) and offers the package.
 * apt runs against a private root (APT_CONFIG with Dir settings): nothing of the host's apt configuration is used.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourcesEntry, sourcesPath } from '../../src/packages/payload.js';
import { releaseText, repoSourcesEntry, writeRepo, type RepoResult } from '../../src/packages/repo.js';
import { stopAgent } from '../../src/tools/gpg.js';

const DEB = join(import.meta.dirname, '../fixtures/packages/novasphere-hello-offline_1.0.0_all.deb');
const EPOCH = 1700000000;

function run(cmd: string, args: string[], env: Record<string, string> = {}): { code: number | null; out: string; stdout: string } {
  const res = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', ...env } });
  return { code: res.status, out: `${res.stdout}${res.stderr}`, stdout: res.stdout };
}

let tmp: string;
let repoDir: string;
let repo: RepoResult;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'isobuild-unit-repo-'));
  repoDir = join(tmp, 'opt/novasphere/packages/system');
  const gpgHome = join(tmp, 'gnupg');
  try {
    repo = await writeRepo({
      dir: repoDir,
      debs: [{ source: DEB }],
      origin: 'NovaSphere',
      label: 'NovaSphere offline packages',
      epochSeconds: EPOCH,
      generatedKey: join(tmp, 'keys/test.asc'),
      gpgHome,
    });
  } finally {
    await stopAgent({ home: gpgHome }).catch(() => undefined);
  }
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Release', () => {
  it('is what apt-ftparchive release writes for the same fields, with SHA512', () => {
    const ours = readFileSync(join(repoDir, 'Release'), 'utf8');
    const field = (name: string): string => new RegExp(`^${name}: (.*)$`, 'm').exec(ours)![1]!;
    // the real tool over a copy of the index files (it would also list a Release it finds)
    const copy = join(tmp, 'ftparchive');
    mkdirSync(copy);
    for (const f of ['Packages', 'Packages.gz', 'Packages.xz']) writeFileSync(join(copy, f), readFileSync(join(repoDir, f)));
    const opts = ['Origin', 'Label', 'Suite', 'Codename', 'Date', 'Architectures', 'Description'].flatMap((f) => ['-o', `APT::FTPArchive::Release::${f}=${field(f)}`]);
    const real = run('apt-ftparchive', [...opts, 'release', copy]);
    expect(real.code, real.out).toBe(0);
    expect(ours).toBe(real.stdout.replaceAll(`${copy}/`, ''));
    expect(ours).toMatch(/^SHA512:\n( [0-9a-f]{128} +\d+ Packages(\.gz|\.xz)?\n){3}$/m);
    expect(field('Date')).toBe('Tue, 14 Nov 2023 22:13:20 +0000');
    // and releaseText alone gives the same text
    expect(releaseText(repoDir, ['Packages', 'Packages.gz', 'Packages.xz'], { origin: 'NovaSphere', label: 'NovaSphere offline packages', epochSeconds: EPOCH, architectures: ['all'] })).toBe(ours);
  });
});

describe('deb822 sources entry', () => {
  it('is what the rootfs gets: /etc/apt/sources.list.d/NAME-packages.sources with Signed-By', () => {
    expect(sourcesPath('novasphere')).toBe('/etc/apt/sources.list.d/novasphere-packages.sources');
    expect(sourcesEntry('novasphere')).toBe(
      'Types: deb\nURIs: file:/opt/novasphere/packages/system\nSuites: ./\nSigned-By: /etc/apt/keyrings/novasphere-packages.gpg\n',
    );
  });

  /** A private apt root whose only source is the repository's .sources entry, trusting `keyring`. */
  function aptRoot(name: string, keyring: Buffer): { apt: (args: string[]) => ReturnType<typeof run> } {
    const root = join(tmp, name);
    for (const d of ['etc/apt/sources.list.d', 'etc/apt/apt.conf.d', 'etc/apt/preferences.d', 'etc/apt/keyrings', 'var/lib/apt/lists/partial', 'var/cache/apt/archives/partial', 'var/lib/dpkg']) {
      mkdirSync(join(root, d), { recursive: true });
    }
    writeFileSync(join(root, 'var/lib/dpkg/status'), '');
    const keyPath = join(root, 'etc/apt/keyrings/test-packages.gpg');
    writeFileSync(keyPath, keyring);
    writeFileSync(join(root, 'etc/apt/sources.list.d/test-packages.sources'), repoSourcesEntry({ uri: `file:${repoDir}`, keyring: keyPath }));
    const config = join(root, 'apt.conf');
    writeFileSync(
      config,
      [`Dir "${root}/";`, `Dir::State::status "${root}/var/lib/dpkg/status";`, 'APT::Architecture "amd64";', 'APT::Architectures { "amd64"; };',
        'Debug::NoLocking "true";', 'APT::Sandbox::User "root";', 'Acquire::Languages "none";'].join('\n'),
    );
    return { apt: (args) => run(args[0]!, args.slice(1), { APT_CONFIG: config }) };
  }

  it('apt-get update reads it, verifies InRelease with the Signed-By key, and apt-cache offers the package', () => {
    const { apt } = aptRoot('apt-good', repo.publicKey);
    const update = apt(['apt-get', 'update']);
    expect(update.code, update.out).toBe(0);
    expect(update.out).toMatch(new RegExp(`Get:\\d+ file:${repoDir} \\./ InRelease`));
    expect(update.out).not.toMatch(/^[WE]: /m);
    expect(update.out).not.toMatch(/NO_PUBKEY|not signed|insecure|unauthenticated/i);
    const policy = apt(['apt-cache', 'policy', 'novasphere-hello-offline']);
    expect(policy.code, policy.out).toBe(0);
    expect(policy.out).toMatch(/Candidate: 1\.0\.0/);
    expect(policy.out).toMatch(new RegExp(`500 file:${repoDir} \\./ Packages`));
    expect(apt(['apt-cache', 'policy']).out).toMatch(/release o=NovaSphere,a=stable,n=offline,l=NovaSphere offline packages/);
  });

  it('apt-get update refuses the repository with another Signed-By key, and an edited Release', () => {
    // a real keyring, of other keys
    const { apt } = aptRoot('apt-other-key', readFileSync('/usr/share/keyrings/debian-archive-keyring.gpg'));
    const refused = apt(['apt-get', 'update']);
    expect(refused.out).toMatch(/NO_PUBKEY [0-9A-F]{16}/);
    expect(apt(['apt-cache', 'policy', 'novasphere-hello-offline']).out).not.toMatch(/Candidate: 1\.0\.0/);

    const edited = join(tmp, 'edited');
    cpSync(repoDir, edited, { recursive: true });
    writeFileSync(join(edited, 'InRelease'), readFileSync(join(edited, 'InRelease'), 'utf8').replace('Suite: stable', 'Suite: stab1e'));
    const root = aptRoot('apt-edited', repo.publicKey);
    writeFileSync(join(tmp, 'apt-edited/etc/apt/sources.list.d/test-packages.sources'), repoSourcesEntry({ uri: `file:${edited}`, keyring: join(tmp, 'apt-edited/etc/apt/keyrings/test-packages.gpg') }));
    const bad = root.apt(['apt-get', 'update']);
    expect(bad.out).toMatch(/BADSIG [0-9A-F]{16}/);
    expect(root.apt(['apt-cache', 'policy', 'novasphere-hello-offline']).out).not.toMatch(/Candidate: 1\.0\.0/);
  });
});
