/**
 * Release artifacts (signed SHA256SUMS, build-manifest.json, RELEASE-NOTES.md against the previous release) and
 * `iso-build verify` on them: passes on a fresh release directory, fails naming the reason for a flipped byte, an
 * edited SHA256SUMS and a signature by another key. Keys are made in a throw-away GNUPGHOME; gpg checks independently.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runCli, sh, sha256, tempDir, type CliResult } from '../support/cli.js';
import { needs, requireFixtures, requireRoot, requireTools } from '../support/needs.js';

const VERSION = 'v1.0.0';
const ISO = `novasphere-fixture-${VERSION}.iso`;

function gpg(home: string, args: string[]): string {
  return execFileSync('gpg', ['--batch', '--no-tty', ...args], { env: { ...process.env, GNUPGHOME: home }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function newKey(home: string, uid: string): string {
  gpg(home, ['--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never']);
  const fpr = /^fpr:(?:[^:]*:){8}([0-9A-F]{40}):/m.exec(gpg(home, ['--with-colons', '--list-secret-keys', uid]));
  return fpr![1]!;
}

describe('release artifacts and iso-build verify', needs(requireRoot(), requireFixtures(), requireTools('gpg')), () => {
  let dir: string;
  let home: string;
  let releaseKey: string;
  let otherKey: string;
  let pubKeyFile: string;
  let rel: string;
  let result: CliResult;
  const env = (): Record<string, string> => ({ GNUPGHOME: home });

  /** A copy of the release directory to tamper with. */
  function copyRelease(name: string): string {
    const copy = join(dir, name);
    cpSync(rel, copy, { recursive: true });
    return copy;
  }

  beforeAll(() => {
    dir = tempDir('release');
    home = join(dir, 'gnupg');
    mkdirSync(home, { mode: 0o700 });
    releaseKey = newKey(home, 'NovaSphere Release Test <release@example.test>');
    otherKey = newKey(home, 'Someone Else <other@example.test>');
    pubKeyFile = join(dir, 'release-key.asc');
    writeFileSync(pubKeyFile, gpg(home, ['--armor', '--export', releaseKey]));

    // the previous release: only its manifest matters for the notes
    mkdirSync(join(dir, 'releases/v0.9.0'), { recursive: true });
    writeFileSync(
      join(dir, 'releases/v0.9.0/build-manifest.json'),
      JSON.stringify({ version: 'v0.9.0', packages: [{ name: 'dpkg', version: '1.0.0' }, { name: 'gone-package', version: '2.0' }] }),
    );
    rel = join(dir, 'releases', VERSION);
    result = runCli([VERSION, '--profile', 'profiles/fixture.yaml', '--output', rel, '--work', join(dir, 'work')], {
      env: { SOURCE_DATE_EPOCH: '1700000000', ISO_BUILD_GPG_KEY: releaseKey, GNUPGHOME: home },
    });
  }, 300_000);

  afterAll(() => {
    try {
      execFileSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: home } });
    } catch {
      /* no agent */
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the ISO, SHA256SUMS (checked by sha256sum -c), its signature (checked by gpg), the manifest and the notes', () => {
    expect(result.stderr).not.toMatch(/^(error|internal error)/m);
    expect(result.code).toBe(0);
    expect(readdirSync(rel).sort()).toEqual(['RELEASE-NOTES.md', 'SHA256SUMS', 'SHA256SUMS.asc', 'build-manifest.json', ISO, 'report.html']);
    expect(sh('sha256sum', ['-c', 'SHA256SUMS'], rel).match(/: OK/g)).toHaveLength(3);
    const status = execFileSync('gpg', ['--batch', '--status-fd', '1', '--verify', 'SHA256SUMS.asc', 'SHA256SUMS'], {
      cwd: rel,
      env: { ...process.env, GNUPGHOME: home },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(status).toMatch(new RegExp(`^\\[GNUPG:\\] VALIDSIG ${releaseKey} `, 'm'));
    expect(result.stderr).toContain(`SHA256SUMS signed by ${releaseKey}`);
  });

  it('build-manifest.json records the inputs with their hashes, tool versions, packages and SOURCE_DATE_EPOCH', () => {
    const m = JSON.parse(readFileSync(join(rel, 'build-manifest.json'), 'utf8')) as {
      version: string;
      sourceDateEpoch: number;
      iso: { name: string; sha256: string; bootPlatforms: string[] };
      base: { sha256: string };
      inputs: { path: string; sha256: string }[];
      tools: Record<string, string>;
      packages: { name: string; version: string }[];
    };
    expect(m).toMatchObject({ version: VERSION, sourceDateEpoch: 1700000000, iso: { name: ISO, sha256: sha256(join(rel, ISO)), bootPlatforms: ['BIOS', 'UEFI'] } });
    expect(m.base.sha256).toBe(sha256(join(REPO, 'fixtures/out/fixture-single.iso')));
    const input = (p: string): string | undefined => m.inputs.find((f) => f.path === p)?.sha256;
    expect(input('fixture.yaml')).toBe(sha256(join(REPO, 'profiles/fixture.yaml')));
    expect(input('../overlay/fixture/rootfs/etc/fixture-boot.d/20-overlay-check')).toBe(sha256(join(REPO, 'overlay/fixture/rootfs/etc/fixture-boot.d/20-overlay-check')));
    expect(m.tools.xorriso).toMatch(/^xorriso \d/);
    expect(m.tools.mksquashfs).toMatch(/^mksquashfs version \d/);
    expect(m.packages.find((p) => p.name === 'dpkg')?.version).toMatch(/^1\.21/);
  });

  it('RELEASE-NOTES.md has the version, base ISO, package changes against v0.9.0 and the checklist', () => {
    const notes = readFileSync(join(rel, 'RELEASE-NOTES.md'), 'utf8');
    expect(notes).toMatch(/^# NovaSphere Fixture v1\.0\.0$/m);
    expect(notes).toContain('fixture-single.iso');
    expect(notes).toContain(sha256(join(rel, ISO)));
    expect(notes).toMatch(/Against v0\.9\.0 \(2 packages\)/);
    expect(notes).toMatch(/^- dpkg 1\.0\.0 → 1\.21\.\S+$/m);
    expect(notes).toMatch(/Removed:\n- gone-package 2\.0/);
    expect(notes).toMatch(/Added:\n- adduser /);
    expect(notes).toContain(`signed with gpg key \`${releaseKey}\``);
    const checklist = readFileSync(join(REPO, 'release/CHECKLIST.md'), 'utf8').trim().split('\n');
    for (const item of checklist) expect(notes).toContain(item);
  });

  it('verify passes on the fresh release directory (key file, fingerprint, or the keyring)', () => {
    const byFile = runCli(['verify', join(rel, ISO), '--key', pubKeyFile]);
    expect(byFile.stderr).toBe('');
    expect(byFile.code).toBe(0);
    for (const step of ['signature', 'sha256', 'md5sum.txt', 'boot records: BIOS \\+ UEFI', 'VERSION: v1\\.0\\.0']) {
      expect(byFile.stdout).toMatch(new RegExp(`^✔ ${step}`, 'm'));
    }
    expect(runCli(['verify', join(rel, ISO), '--key', releaseKey], { env: env() }).code).toBe(0);
    expect(runCli(['verify', join(rel, ISO)], { env: env() }).code).toBe(0);
  });

  it('publishing two products (scripts/publish-assets) keeps names that sha256sum -c, gpg and iso-build verify work with', () => {
    // a second product of the same release: another ISO name, its own signed SHA256SUMS, the same other file names
    const other = join(dir, 'other-product');
    const OTHER = 'other-appliance-v1.0.0.iso';
    mkdirSync(other);
    cpSync(join(rel, ISO), join(other, OTHER));
    for (const f of ['RELEASE-NOTES.md', 'build-manifest.json']) cpSync(join(rel, f), join(other, f));
    writeFileSync(join(other, 'SHA256SUMS'), [OTHER, 'RELEASE-NOTES.md', 'build-manifest.json'].map((f) => `${sha256(join(other, f))}  ${f}\n`).join(''));
    gpg(home, ['--local-user', releaseKey, '--armor', '--detach-sign', '--output', join(other, 'SHA256SUMS.asc'), join(other, 'SHA256SUMS')]);
    const assets = join(dir, 'assets');
    execFileSync(join(REPO, 'scripts/publish-assets'), [assets, rel, other], {
      env: { ...process.env, GNUPGHOME: home, ISO_BUILD_GPG_KEY: releaseKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stem = ISO.replace(/\.iso$/, '');
    const prefixed = (s: string): string[] => ['RELEASE-NOTES.md', 'build-manifest.json'].map((f) => `${s}-${f}`);
    expect(readdirSync(assets).sort()).toEqual(['SHA256SUMS', 'SHA256SUMS.asc', ISO, OTHER, ...prefixed(stem), ...prefixed('other-appliance-v1.0.0')].sort());
    expect(sh('sha256sum', ['-c', 'SHA256SUMS'], assets).match(/: OK$/gm)).toHaveLength(6);
    expect(gpg(home, ['--status-fd', '1', '--verify', join(assets, 'SHA256SUMS.asc'), join(assets, 'SHA256SUMS')])).toMatch(
      new RegExp(`^\\[GNUPG:\\] VALIDSIG ${releaseKey} `, 'm'),
    );
    const res = runCli(['verify', join(assets, ISO), '--key', pubKeyFile]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^✔ signature: SHA256SUMS is signed by/m);
    // a release that publishes one sums file per ISO, named after it: verify finds that one too
    for (const f of ['SHA256SUMS', 'SHA256SUMS.asc']) renameSync(join(assets, f), join(assets, `${stem}-${f}`));
    const perIso = runCli(['verify', join(assets, ISO), '--key', pubKeyFile]);
    expect(perIso.stderr).toBe('');
    expect(perIso.stdout).toMatch(new RegExp(`^✔ signature: ${stem}-SHA256SUMS is signed by`, 'm'));
    for (const f of ['SHA256SUMS', 'SHA256SUMS.asc']) renameSync(join(assets, `${stem}-${f}`), join(assets, f));
    // the published manifest is the one verify trusts: changed, it fails naming it
    writeFileSync(join(assets, `${stem}-build-manifest.json`), '{}\n');
    const changed = runCli(['verify', join(assets, ISO), '--key', pubKeyFile]);
    expect(changed.code).toBe(3);
    expect(changed.stderr).toMatch(new RegExp(`^error: sha256: ${stem}-build-manifest\\.json does not match its line in SHA256SUMS`, 'm'));
    // a tampered release directory is never published
    const tampered = copyRelease('tampered');
    writeFileSync(join(tampered, 'RELEASE-NOTES.md'), 'changed\n');
    expect(() =>
      execFileSync(join(REPO, 'scripts/publish-assets'), [join(dir, 'assets-tampered'), tampered], { env: { ...process.env, GNUPGHOME: home }, stdio: ['ignore', 'pipe', 'pipe'] }),
    ).toThrow(/does not verify SHA256SUMS|do not match/);
  });

  it('fails naming the sha256 when one byte of the ISO is flipped', () => {
    const copy = copyRelease('flipped');
    const fd = openSync(join(copy, ISO), 'r+');
    const at = Math.floor(statSync(join(copy, ISO)).size / 2);
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, at);
    closeSync(fd);
    const res = runCli(['verify', join(copy, ISO), '--key', pubKeyFile]);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(new RegExp(`^error: sha256: ${ISO.replace(/\./g, '\\.')} has sha256 [0-9a-f]{64}, but SHA256SUMS says ${sha256(join(rel, ISO))}$`, 'm'));
    expect(res.stdout).toMatch(/^✔ signature/m);
  });

  it('fails naming the file when a file inside the ISO was changed and SHA256SUMS made anew (md5sum.txt)', () => {
    const copy = copyRelease('inner');
    const iso = join(copy, ISO);
    // where .disk/info is in the image, as xorriso reports it
    const lba = /File data lba:\s*0\s*,\s*(\d+)\s*,.*'\/\.disk\/info'/.exec(sh('xorriso', ['-indev', iso, '-find', '/.disk/info', '-exec', 'report_lba', '--']))!;
    const fd = openSync(iso, 'r+');
    writeSync(fd, Buffer.from('X'), 0, 1, Number(lba[1]) * 2048);
    closeSync(fd);
    rmSync(join(copy, 'SHA256SUMS.asc'));
    writeFileSync(join(copy, 'SHA256SUMS'), `${sha256(iso)}  ${ISO}\n`);
    const res = runCli(['verify', iso]);
    expect(res.code).toBe(3);
    expect(res.stdout).toMatch(/^✔ sha256/m);
    expect(res.stderr).toMatch(/^error: md5sum\.txt mismatch for \.\/\.disk\/info: listed [0-9a-f]{32}, ISO has [0-9a-f]{32}$/m);
  });

  it('fails naming the signature when SHA256SUMS is edited (and the sha256 when it is unsigned)', () => {
    const copy = copyRelease('edited');
    const sums = join(copy, 'SHA256SUMS');
    const text = readFileSync(sums, 'utf8');
    const real = sha256(join(rel, ISO));
    const fake = `${real.slice(0, -1)}${real.endsWith('0') ? '1' : '0'}`;
    writeFileSync(sums, text.replace(real, fake));
    const signed = runCli(['verify', join(copy, ISO), '--key', pubKeyFile]);
    expect(signed.code).toBe(3);
    expect(signed.stderr).toMatch(/^error: signature: SHA256SUMS\.asc does not verify SHA256SUMS: BAD signature/m);
    rmSync(join(copy, 'SHA256SUMS.asc'));
    const unsigned = runCli(['verify', join(copy, ISO)]);
    expect(unsigned.code).toBe(3);
    expect(unsigned.stderr).toMatch(/^warning: signature: none/m);
    expect(unsigned.stderr).toMatch(new RegExp(`^error: sha256: .* but SHA256SUMS says ${fake}$`, 'm'));
    // asking for a signature that is not there fails too
    expect(runCli(['verify', join(copy, ISO), '--key', pubKeyFile]).stderr).toMatch(/^error: signature: .*SHA256SUMS\.asc is missing/m);
  });

  it('a build naming a signing key gpg does not have fails before building (exit 2), leaving nothing', () => {
    const out = join(dir, 'releases/v1.0.1');
    const res = runCli(['v1.0.1', '--profile', 'profiles/fixture.yaml', '--output', out, '--work', join(dir, 'work-nokey')], {
      env: { SOURCE_DATE_EPOCH: '1700000000', ISO_BUILD_GPG_KEY: 'nobody@example.invalid', GNUPGHOME: home },
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^error: gpg has no secret key "nobody@example\.invalid" to sign SHA256SUMS with$/m);
    expect(res.stderr).not.toMatch(/Verify base ISO/);
  });

  it('fails naming the signature when SHA256SUMS was signed by another key', () => {
    const copy = copyRelease('other-key');
    rmSync(join(copy, 'SHA256SUMS.asc'));
    gpg(home, ['--local-user', otherKey, '--armor', '--detach-sign', '--output', join(copy, 'SHA256SUMS.asc'), join(copy, 'SHA256SUMS')]);
    const byFile = runCli(['verify', join(copy, ISO), '--key', pubKeyFile]);
    expect(byFile.code).toBe(3);
    expect(byFile.stderr).toMatch(/^error: signature: SHA256SUMS\.asc does not verify SHA256SUMS: the signature was made by key \S+, which is not the key to check against/m);
    const byFingerprint = runCli(['verify', join(copy, ISO), '--key', releaseKey], { env: env() });
    expect(byFingerprint.code).toBe(3);
    expect(byFingerprint.stderr).toContain(`the signature was made by key ${otherKey}, not by ${releaseKey}`);
  });
});
