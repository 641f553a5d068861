import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, IsoBuildError } from '../../src/errors.js';
import { loadProfile, renderOutputName, type ProfileOverrides } from '../../src/profile/load.js';
import { findSha256 } from '../../src/sha256sums.js';
import { ProfileDocumentSchema, type Profile } from '../../src/profile/schema.js';

const FIXTURES = 'test/unit/fixtures/profiles';
const FIXTURES_ABS = path.resolve(FIXTURES);
const HASH = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const BASE = `base:\n  path: base.iso\n  sha256: ${HASH}\n`;

let tmp: string;
let counter = 0;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'iso-build-profile-'));
  await writeFile(path.join(tmp, 'base.iso'), 'not an ISO');
  await mkdir(path.join(tmp, 'overlay'));
  await writeFile(path.join(tmp, 'a-file'), 'x');
  await writeFile(path.join(tmp, 'SHA256SUMS'), `${HASH.toUpperCase()} *base.iso\n${'f'.repeat(64)}  other.iso\n`);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Writes `yaml` as a profile in the temp dir (next to base.iso, overlay/, SHA256SUMS). */
async function profileFile(yaml: string): Promise<string> {
  const file = path.join(tmp, `p${counter++}.yaml`);
  await writeFile(file, yaml);
  return file;
}

async function loadError(file: string, overrides?: ProfileOverrides): Promise<IsoBuildError> {
  const err: unknown = await loadProfile(file, overrides).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof IsoBuildError)) throw new Error(`expected an IsoBuildError, got ${String(err)}`);
  expect(err.exitCode).toBe(ExitCode.Usage);
  expect(err.message).not.toContain('\n');
  return err;
}

/** The error message for a profile, with the temp file name replaced by `P`. */
async function messageFor(yaml: string): Promise<string> {
  const file = await profileFile(yaml);
  return (await loadError(file)).message.replace(file, 'P');
}

describe('loadProfile: valid profiles', () => {
  it('fills every default for a minimal profile', async () => {
    const profile = await loadProfile(`${FIXTURES}/minimal.yaml`);
    expect(profile).toEqual<Profile>({
      file: `${FIXTURES_ABS}/minimal.yaml`,
      dir: FIXTURES_ABS,
      name: 'minimal',
      product: 'minimal',
      volumeLabel: 'MINIMAL',
      base: { path: `${FIXTURES_ABS}/iso/base.iso`, sha256: HASH, layout: 'auto' },
      rootfs: { compression: 'auto', strategy: 'auto' },
      overlay: [],
      chroot: { commands: [], env: {} },
      output: { name: '{{name}}-{{version}}.iso' },
      hooks: { 'pre-customize': [], 'post-customize': [], 'pre-repack': [], 'post-build': [] },
      timeouts: { hook: 1800, chrootCommand: 3600 },
    });
  });

  it('resolves paths, normalizes targets and takes the hash from SHA256SUMS', async () => {
    const profile = await loadProfile(`${FIXTURES}/full.yaml`);
    expect(profile.base).toEqual({
      url: 'https://releases.example.org/24.04.2/ubuntu-24.04.2-live-server-amd64.iso',
      sha256: 'd7f1e9e1c4b8a2f3e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8',
      sha256sums: `${FIXTURES_ABS}/iso/SHA256SUMS`,
      layout: 'casper-layered',
      rootfsLayer: 'ubuntu-server-minimal.squashfs',
    });
    expect(profile.overlay).toEqual([
      { source: `${FIXTURES_ABS}/overlay/rootfs`, target: '/etc/fixture', into: 'rootfs', owner: 'root:root' },
      { source: `${FIXTURES_ABS}/overlay/rootfs`, target: '/', into: 'rootfs', owner: '1000:1000' },
      { source: `${FIXTURES_ABS}/overlay/iso`, target: '/fixture', into: 'iso', owner: 'keep' },
    ]);
    expect(profile).toMatchObject({
      product: 'Fixture OS',
      volumeLabel: 'Fixture OS 1',
      rootfs: { compression: 'zstd', compressionLevel: 19 },
      chroot: { env: { DEBIAN_FRONTEND: 'noninteractive' } },
      sourceDateEpoch: 1735689600,
    });
  });

  it('cuts the default volume label to 32 characters', async () => {
    const profile = await loadProfile(await profileFile(`name: ${'a'.repeat(40)}\n${BASE}`));
    expect(profile.volumeLabel).toBe('A'.repeat(32));
  });

  it('accepts both sha256 and sha256sums when they agree', async () => {
    const profile = await loadProfile(await profileFile(`name: x\n${BASE}  sha256sums: SHA256SUMS\n`));
    expect(profile.base.sha256).toBe(HASH);
  });

  it.each(['zstd: 1', 'zstd: 22', 'gzip: 1', 'gzip: 9'])('accepts compression level %s', async (spec) => {
    const [compression, level] = spec.split(': ');
    const yaml = `name: x\n${BASE}rootfs:\n  compression: ${compression}\n  compressionLevel: ${level}\n`;
    expect((await loadProfile(await profileFile(yaml))).rootfs.compressionLevel).toBe(Number(level));
  });
});

describe('loadProfile: overrides', () => {
  const upper = 'ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789';

  it('--base/--base-sha256 replace url and sha256sums; --base is relative to the cwd', async () => {
    const profile = await loadProfile(`${FIXTURES}/full.yaml`, { basePath: 'some/local.iso', baseSha256: upper });
    expect(profile.base).toEqual({
      path: path.resolve('some/local.iso'),
      sha256: upper.toLowerCase(),
      layout: 'casper-layered',
      rootfsLayer: 'ubuntu-server-minimal.squashfs',
    });
  });

  it('skips the base.path existence check when --base is given', async () => {
    const file = `${FIXTURES}/missing-files.yaml`;
    const err = await loadError(file, { basePath: 'x.iso', baseSha256: upper });
    expect(err.message).toContain('overlay[0].source: directory not found');
  });

  it('--base-sha256 alone replaces sha256sums', async () => {
    const profile = await loadProfile(await profileFile(`name: x\nbase:\n  path: base.iso\n  sha256sums: NOPE\n`), { baseSha256: upper });
    expect(profile.base).toEqual({ path: path.join(tmp, 'base.iso'), sha256: upper.toLowerCase(), layout: 'auto' });
  });

  it('--base requires --base-sha256', async () => {
    const err = await loadError(`${FIXTURES}/minimal.yaml`, { basePath: 'x.iso' });
    expect(err.message).toBe('--base requires --base-sha256');
    expect(err.hint).toContain('sha256sum');
  });

  it('rejects a malformed --base-sha256', async () => {
    const err = await loadError(`${FIXTURES}/minimal.yaml`, { basePath: 'x.iso', baseSha256: 'abc' });
    expect(err.message).toBe('--base-sha256: expected 64 hexadecimal characters, got "abc"');
  });
});

describe('loadProfile: file and YAML errors', () => {
  it('reports a missing profile', async () => {
    const err = await loadError(`${FIXTURES}/nope.yaml`);
    expect(err.message).toBe(`profile not found: ${FIXTURES}/nope.yaml`);
    expect(err.hint).toContain('profiles/novasphere.yaml');
  });

  it('reports a directory given as profile', async () => {
    expect((await loadError(FIXTURES)).message).toBe(`profile is a directory, not a file: ${FIXTURES}`);
  });

  it('reports YAML syntax errors with line:col', async () => {
    const err = await loadError(`${FIXTURES}/invalid-syntax.yaml`);
    expect(err.message).toMatch(/^test\/unit\/fixtures\/profiles\/invalid-syntax\.yaml:3:9: invalid YAML: /);
  });

  it('reports duplicate keys', async () => {
    expect(await messageFor(`name: x\nname: y\n${BASE}`)).toMatch(/^P:2:1: invalid YAML: Map keys must be unique/);
  });

  it('reports an empty profile', async () => {
    expect(await messageFor('')).toBe('P:1:1: expected a mapping, got an empty value');
  });
});

describe('loadProfile: schema errors', () => {
  it('points at an unknown key and suggests the closest one', async () => {
    const err = await loadError(`${FIXTURES}/invalid-typo.yaml`);
    expect(err.message).toBe(
      'test/unit/fixtures/profiles/invalid-typo.yaml:6:3: unknown key "compresion" at rootfs (expected one of: compression, compressionLevel, strategy)',
    );
    expect(err.hint).toBe('did you mean "compression"? (see docs/profile.md)');
  });

  it('reports unknown top-level keys without a suggestion when nothing is close', async () => {
    const message = await messageFor(`name: x\n${BASE}frobnicate: 1\n`);
    expect(message).toBe(
      `P:5:1: unknown key "frobnicate" at the top level (expected one of: ${Object.keys(ProfileDocumentSchema.shape).join(', ')})`,
    );
  });

  it('points at an escaping overlay target', async () => {
    const err = await loadError(`${FIXTURES}/invalid-target.yaml`);
    expect(err.message).toBe(
      `test/unit/fixtures/profiles/invalid-target.yaml:9:13: overlay[1].target: expected an absolute path inside the rootfs without '..', got "../etc"`,
    );
  });

  it('reports the first problem in file order and counts the rest', async () => {
    const err = await loadError(`${FIXTURES}/invalid-many.yaml`);
    expect(err.message).toBe(
      'test/unit/fixtures/profiles/invalid-many.yaml:1:7: name: expected lower-case letters, digits and "-", starting with a letter or digit, got "Many_Problems"',
    );
    expect(err.hint).toBe('2 more problems in this profile; see docs/profile.md');
  });

  it.each([
    ['etc', 'relative'],
    ['/etc/../..', 'dot-dot segment'],
    ['/a/../b', 'dot-dot that stays inside'],
    ['//..', 'double slash trick'],
    ['/..', 'root parent'],
    ['/etc/..', 'trailing dot-dot'],
    ['/etc\\\\..\\\\x', 'backslashes'],
    ['/etc\\0x', 'NUL'],
    ['', 'empty'],
  ])('rejects overlay target %j (%s)', async (target) => {
    const message = await messageFor(`name: x\n${BASE}overlay:\n  - source: overlay\n    target: "${target}"\n`);
    expect(message).toMatch(/^P:7:13: overlay\[0\]\.target: expected an absolute path inside the rootfs without '\.\.', got /);
  });

  it.each([
    ['/', '/'],
    ['/etc//ssh/./', '/etc/ssh'],
    ['/opt/...', '/opt/...'],
    ['/opt/..x', '/opt/..x'],
  ])('normalizes overlay target %j to %j', async (target, expected) => {
    const profile = await loadProfile(await profileFile(`name: x\n${BASE}overlay:\n  - source: overlay\n    target: "${target}"\n`));
    expect(profile.overlay[0]?.target).toBe(expected);
  });

  it.each([
    ['a missing required key', 'base:\n  path: base.iso\n', 'P:1:1: name: missing required key (expected a string)'],
    ['both path and url', `name: x\n${BASE}  url: https://x.org/a.iso\n`, 'P:5:8: base.url: expected either base.path or base.url, not both'],
    ['neither path nor url', `name: x\nbase:\n  sha256: ${HASH}\n`, 'P:3:3: base: expected base.path (a local ISO) or base.url (where to download it)'],
    ['no hash', 'name: x\nbase:\n  path: base.iso\n', "P:3:3: base: expected base.sha256 or base.sha256sums: the base ISO's SHA-256 is required"],
    ['a short sha256', 'name: x\nbase:\n  path: base.iso\n  sha256: abc\n', 'P:4:11: base.sha256: expected a SHA-256: 64 hexadecimal characters, got "abc"'],
    ['a non-http URL', `name: x\nbase:\n  url: ftp://x.org/a.iso\n  sha256: ${HASH}\n`, 'P:3:8: base.url: expected an http:// or https:// URL, got "ftp://x.org/a.iso"'],
    ['a bad layout', `name: x\n${BASE}  layout: iso\n`, 'P:5:11: base.layout: expected one of: "auto", "casper", "casper-layered", "debian-live", got "iso"'],
    ['a layer on a flat layout', `name: x\n${BASE}  layout: casper\n  rootfsLayer: a.squashfs\n`, 'P:6:16: base.rootfsLayer: expected no rootfsLayer with layout "casper" (only layered casper ISOs have layers), got "a.squashfs"'],
    ['an xz level', `name: x\n${BASE}rootfs:\n  compression: xz\n  compressionLevel: 6\n`, 'P:7:21: rootfs.compressionLevel: expected no compressionLevel with compression "xz" (only zstd and gzip take a level), got 6'],
    ['a level with auto', `name: x\n${BASE}rootfs:\n  compressionLevel: 6\n`, 'P:6:21: rootfs.compressionLevel: expected no compressionLevel with compression "auto" (auto takes the base\'s own level; only zstd and gzip take a level), got 6'],
    ['a zstd level out of range', `name: x\n${BASE}rootfs:\n  compression: zstd\n  compressionLevel: 23\n`, 'P:7:21: rootfs.compressionLevel: expected an integer from 1 to 22 for zstd, got 23'],
    ['a gzip level out of range', `name: x\n${BASE}rootfs:\n  compression: gzip\n  compressionLevel: 0\n`, 'P:7:21: rootfs.compressionLevel: expected an integer from 1 to 9 for gzip, got 0'],
    ['a fractional level', `name: x\n${BASE}rootfs:\n  compression: gzip\n  compressionLevel: 1.5\n`, 'P:7:21: rootfs.compressionLevel: expected an integer, got 1.5'],
    ['a bad owner', `name: x\n${BASE}overlay:\n  - source: overlay\n    target: /\n    owner: root\n`, 'P:8:12: overlay[0].owner: expected "user:group" (names or numeric ids) or "keep", got "root"'],
    ['a long volume label', `name: x\nvolumeLabel: ${'A'.repeat(33)}\n${BASE}`, `P:2:14: volumeLabel: expected at most 32 characters from A-Z a-z 0-9 space _ . -, got "${'A'.repeat(33)}"`],
    ['a non-list overlay', `name: x\n${BASE}overlay: /etc\n`, 'P:5:10: overlay: expected a list, got "/etc"'],
    ['an output name without .iso', `name: x\n${BASE}output:\n  name: "{{name}}.img"\n`, 'P:6:9: output.name: expected a file name template ending in ".iso", got "{{name}}.img"'],
    ['an unknown template variable', `name: x\n${BASE}output:\n  name: "{{arch}}.iso"\n`, 'P:6:9: output.name: expected a valid template: unknown variable "{{arch}}" (expected one of: {{name}}, {{product}}, {{version}}), got "{{arch}}.iso"'],
    ['a / in the output name', `name: x\n${BASE}output:\n  name: "out/{{name}}.iso"\n`, `P:6:9: output.name: expected a plain file name template (no '/'), got "out/{{name}}.iso"`],
    ['a product that renders a /', `name: x\nproduct: A/B\n${BASE}output:\n  name: "{{product}}.iso"\n`, 'P:7:9: output.name: expected a template that renders to a plain file name, but it renders to "A/B.iso", got "{{product}}.iso"'],
    ['a negative sourceDateEpoch', `name: x\n${BASE}sourceDateEpoch: -1\n`, 'P:5:18: sourceDateEpoch: expected a number >= 0, got -1'],
    ['a bad env name', `name: x\n${BASE}chroot:\n  env:\n    BAD-NAME: x\n`, 'P:7:5: chroot.env: invalid key "BAD-NAME": expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*)'],
    ['an empty command', `name: x\n${BASE}chroot:\n  commands: [""]\n`, 'P:6:14: chroot.commands[0]: expected a non-empty string, got ""'],
  ])('reports %s', async (_what, yaml, expected) => {
    expect(await messageFor(yaml)).toBe(expected);
  });

  it('suggests quoting a number given for a string', async () => {
    const err = await loadError(await profileFile(`name: x\n${BASE}chroot:\n  env:\n    RETRIES: 3\n`));
    expect(err.message).toMatch(/:7:14: chroot\.env\.RETRIES: expected a string, got 3$/);
    expect(err.hint).toBe('YAML read this as a number; quote it to make it a string ("3") (see docs/profile.md)');
  });
});

describe('loadProfile: missing files', () => {
  it('reports a missing base ISO and counts the missing overlay', async () => {
    const err = await loadError(`${FIXTURES}/missing-files.yaml`);
    expect(err.message).toBe(`test/unit/fixtures/profiles/missing-files.yaml:3:9: base.path: file not found: ${FIXTURES_ABS}/iso/no-such.iso`);
    expect(err.hint).toContain('1 more problem in this profile');
  });

  it.each([
    ['a missing overlay dir', 'nope', `P:6:13: overlay[0].source: directory not found: TMP/nope`],
    ['an overlay source that is a file', 'a-file', `P:6:13: overlay[0].source: expected a directory: TMP/a-file`],
  ])('reports %s', async (_what, source, expected) => {
    const message = await messageFor(`name: x\n${BASE}overlay:\n  - source: ${source}\n    target: /\n`);
    expect(message).toBe(expected.replace('TMP', tmp));
  });

  it('reports a missing SHA256SUMS file', async () => {
    const message = await messageFor('name: x\nbase:\n  path: base.iso\n  sha256sums: sums/NOPE\n');
    expect(message).toBe(`P:4:15: base.sha256sums: file not found: ${tmp}/sums/NOPE`);
  });

  it('reports a SHA256SUMS file that does not list the ISO', async () => {
    const err = await loadError(await profileFile(`name: x\nbase:\n  url: https://x.org/y/missing.iso\n  sha256sums: SHA256SUMS\n`));
    expect(err.message).toMatch(/:4:15: base\.sha256sums: .*\/SHA256SUMS does not list "missing\.iso"$/);
    expect(err.hint).toContain('"<sha256> *missing.iso"');
  });

  it('reports a sha256 that disagrees with SHA256SUMS', async () => {
    const message = await messageFor(`name: x\nbase:\n  path: base.iso\n  sha256: ${'e'.repeat(64)}\n  sha256sums: SHA256SUMS\n`);
    expect(message).toBe(`P:4:11: base.sha256: does not match the hash ${tmp}/SHA256SUMS lists for "base.iso" (${HASH})`);
  });
});

describe('renderOutputName', () => {
  it('renders the default and custom templates', async () => {
    const minimal = await loadProfile(`${FIXTURES}/minimal.yaml`);
    expect(renderOutputName(minimal, '1.2.3')).toBe('minimal-1.2.3.iso');
    const full = await loadProfile(`${FIXTURES}/full.yaml`);
    expect(renderOutputName(full, '2025.01')).toBe('fixture-os-2025.01-amd64.iso');
    const product = { ...minimal, output: { name: '{{ product }} {{version}}.iso' } };
    expect(renderOutputName(product, '1')).toBe('minimal 1.iso');
  });

  it('rejects a version that makes the name a path', async () => {
    const profile = await loadProfile(`${FIXTURES}/minimal.yaml`);
    expect(() => renderOutputName(profile, '1/2')).toThrowError(
      'test/unit/fixtures/profiles/minimal.yaml: output.name: "{{name}}-{{version}}.iso" with version "1/2" renders to "minimal-1/2.iso", not a plain file name',
    );
  });

  it('rejects unknown variables', async () => {
    const profile = await loadProfile(`${FIXTURES}/minimal.yaml`);
    const bad = { ...profile, output: { name: '{{name}}-{{arch}}.iso' } };
    expect(() => renderOutputName(bad, '1')).toThrowError(/output\.name: unknown variable "\{\{arch\}\}"/);
  });
});

describe('findSha256', () => {
  const a = 'A'.repeat(64);
  it.each([
    [`${a}  base.iso`, 'GNU text mode'],
    [`${a} *base.iso`, 'GNU binary mode'],
    [`${a} *./base.iso`, './ prefix'],
    [`SHA256 (base.iso) = ${a}`, 'BSD style'],
    [`${'b'.repeat(64)} *other.iso\r\n${a} *base.iso\r\n`, 'CRLF, second line'],
  ])('finds %j (%s)', (sums) => {
    expect(findSha256(sums, 'base.iso')).toBe(a.toLowerCase());
  });

  it('does not match on a name prefix or suffix', () => {
    expect(findSha256(`${a} *base.iso.zsync\n${a} *xbase.iso`, 'base.iso')).toBeUndefined();
  });
});
