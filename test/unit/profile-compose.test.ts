import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IsoBuildError } from '../../src/errors.js';
import { loadProfile } from '../../src/profile/load.js';

const HASH = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'iso-build-compose-'));
  await mkdir(path.join(tmp, 'base/overlay'), { recursive: true });
  await mkdir(path.join(tmp, 'child/overlay'), { recursive: true });
  await writeFile(path.join(tmp, 'base/base.iso'), 'x');
  await writeFile(path.join(tmp, 'base/user-data.hbs'), 'x');
  await writeFile(path.join(tmp, 'base/hook.sh'), 'x');
  await writeFile(
    path.join(tmp, 'base/base.yaml'),
    `name: base
product: Base
base:
  path: base.iso
  sha256: ${HASH}
rootfs:
  compression: zstd
  compressionLevel: 3
overlay:
  - source: overlay
    target: /
chroot:
  commands: [one, two]
  env: {A: a, B: b}
autoinstall:
  userData: user-data.hbs
  hostname: base-host
  lateCommands: [base-late]
hooks:
  pre-repack: [hook.sh]
vars:
  WHO: base
  ONLY_BASE: kept
`,
  );
});
afterAll(async () => rm(tmp, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.ISO_BUILD_TEST_WHO;
});

async function child(yaml: string, name = 'child.yaml'): Promise<string> {
  const file = path.join(tmp, 'child', name);
  await writeFile(file, yaml);
  return file;
}

async function loadError(file: string): Promise<IsoBuildError> {
  const err: unknown = await loadProfile(file).then(() => undefined, (e: unknown) => e);
  if (!(err instanceof IsoBuildError)) throw new Error(`expected an IsoBuildError, got ${String(err)}`);
  return err;
}

describe('extends', () => {
  it('deep-merges onto the base: scalars replaced, mappings merged, lists appended, base paths relative to the base', async () => {
    const file = await child(`extends: ../base/base.yaml
name: child
rootfs:
  compressionLevel: 9
overlay:
  - source: overlay
    target: /etc
chroot:
  commands: [three]
  env: {B: bb}
autoinstall:
  lateCommands: [child-late]
`);
    const p = await loadProfile(file);
    expect(p.name).toBe('child');
    expect(p.product).toBe('Base');
    expect(p.file).toBe(file);
    expect(p.base.path).toBe(path.join(tmp, 'base/base.iso'));
    expect(p.rootfs).toMatchObject({ compression: 'zstd', compressionLevel: 9 });
    expect(p.overlay.map((o) => [o.source, o.target])).toEqual([
      [path.join(tmp, 'base/overlay'), '/'],
      [path.join(tmp, 'child/overlay'), '/etc'],
    ]);
    expect(p.chroot).toEqual({ commands: ['one', 'two', 'three'], env: { A: 'a', B: 'bb' } });
    expect(p.autoinstall).toMatchObject({ userData: path.join(tmp, 'base/user-data.hbs'), hostname: 'base-host', lateCommands: ['base-late', 'child-late'] });
    expect(p.hooks['pre-repack']).toEqual([path.join(tmp, 'base/hook.sh')]);
    expect(p).not.toHaveProperty('extends');
  });

  it('replaces a list tagged !replace', async () => {
    const p = await loadProfile(await child(`extends: ../base/base.yaml\nname: c\nchroot:\n  commands: !replace [only]\n`));
    expect(p.chroot.commands).toEqual(['only']);
  });

  it('replaces a mapping tagged !replace', async () => {
    const p = await loadProfile(await child(`extends: ../base/base.yaml\nname: c\nchroot: !replace\n  commands: [x]\n`));
    expect(p.chroot).toEqual({ commands: ['x'], env: {} });
  });

  it('keeps package payload paths of the base relative to the base', async () => {
    const { absolutizePaths } = await import('../../src/profile/compose.js');
    const data = { packages: { debs: ['a.deb', '/abs.deb'], images: [{ archive: 'i.tar' }], charts: [{ path: 'c.tgz' }, { repo: 'charts' }, { repo: 'https://charts.example/x' }], installScript: 't.hbs' } };
    absolutizePaths(data, '/base');
    expect(data.packages).toEqual({
      debs: ['/base/a.deb', '/abs.deb'],
      images: [{ archive: '/base/i.tar' }],
      charts: [{ path: '/base/c.tgz' }, { repo: '/base/charts' }, { repo: 'https://charts.example/x' }],
      installScript: '/base/t.hbs',
    });
  });

  it('points at the file and line of a problem in the base', async () => {
    await writeFile(path.join(tmp, 'base/bad-base.yaml'), `name: bad\nbase:\n  path: base.iso\n  sha256: ${HASH}\nrootfs:\n  compresion: xz\n`);
    const err = await loadError(await child('extends: ../base/bad-base.yaml\nname: c\n'));
    expect(err.message).toMatch(/base\/bad-base\.yaml:6:3: unknown key "compresion" at rootfs/);
  });

  it('points at the child for a problem in an appended list item', async () => {
    const err = await loadError(await child('extends: ../base/base.yaml\nname: c\noverlay:\n  - source: overlay\n    target: relative\n'));
    expect(err.message).toMatch(/child\/child\.yaml:5:13: overlay\[1\]\.target: expected an absolute path/);
  });

  it('reports a missing base and a cycle', async () => {
    expect((await loadError(await child('extends: nope.yaml\nname: c\n'))).message).toMatch(/child\.yaml:1:10: extends: file not found: .*nope\.yaml/);
    await child('extends: loop-b.yaml\nname: a\n', 'loop-a.yaml');
    const b = await child('extends: loop-a.yaml\nname: b\n', 'loop-b.yaml');
    expect((await loadError(b)).message).toMatch(/extends: cycle: loop-b\.yaml -> loop-a\.yaml -> loop-b\.yaml/);
  });
});

describe('${VAR} interpolation', () => {
  it('takes values from vars (merged over the base) and the environment, which wins', async () => {
    const file = await child('extends: ../base/base.yaml\nname: c\nproduct: "${WHO} ${ONLY_BASE} $${LITERAL}"\nvars:\n  WHO: child\n');
    expect((await loadProfile(file)).product).toBe('child kept ${LITERAL}');
    process.env.ISO_BUILD_TEST_WHO = 'env';
    const envFile = await child('extends: ../base/base.yaml\nname: c\nproduct: "${ISO_BUILD_TEST_WHO}"\nvars:\n  ISO_BUILD_TEST_WHO: vars\n');
    expect((await loadProfile(envFile)).product).toBe('env');
  });

  it('reports an unknown variable where it is used', async () => {
    const err = await loadError(await child('extends: ../base/base.yaml\nname: c\nchroot:\n  commands: ["echo ${NOPE_NOT_SET}"]\n'));
    expect(err.message).toMatch(/child\.yaml:4:14: chroot\.commands\[2\]: unknown variable \$\{NOPE_NOT_SET\}/);
    expect(err.hint).toContain('$${NOPE_NOT_SET}');
  });

  it('validates the interpolated value', async () => {
    const err = await loadError(await child('extends: ../base/base.yaml\nname: "${WHO}_X"\n'));
    expect(err.message).toMatch(/child\.yaml:2:7: name: expected lower-case letters.*got "base_X"/);
  });
});

describe('variables that use variables (#13)', () => {
  it('expands vars that refer to other vars, in strings and in vars itself', async () => {
    const p = await loadProfile(await child('extends: ../base/base.yaml\nname: c\nproduct: "${FULL}"\nvars:\n  FULL: "${FIRST} ${LAST}"\n  FIRST: "${WHO}"\n  LAST: two\n'));
    expect(p.product).toBe('base two');
    expect(p.vars).toMatchObject({ FULL: 'base two', FIRST: 'base' });
  });

  it('refuses a cycle, naming it, instead of leaving a literal ${B}', async () => {
    const err = await loadError(await child('extends: ../base/base.yaml\nname: c\nproduct: "${A}"\nvars:\n  A: "x${B}"\n  B: "${A}"\n'));
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/child\.yaml:5:\d+: vars\.A: variables refer to each other: \$\{A\} -> \$\{B\} -> \$\{A\}$/);
    const self = await loadError(await child('extends: ../base/base.yaml\nname: c\nvars:\n  SELF: "${SELF}"\n'));
    expect(self.message).toMatch(/vars\.SELF: variables refer to each other: \$\{SELF\} -> \$\{SELF\}/);
  });

  it('refuses an unknown variable inside vars, even an unused one', async () => {
    const err = await loadError(await child('extends: ../base/base.yaml\nname: c\nvars:\n  X: "${NOPE_NOT_SET}"\n'));
    expect(err.message).toMatch(/child\.yaml:4:6: vars\.X: unknown variable \$\{NOPE_NOT_SET\}/);
  });
});

describe('paths of an extended profile in another directory (#13)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = path.join(tmp, 'defaults');
    await mkdir(path.join(dir, 'lib/templates'), { recursive: true });
    await mkdir(path.join(dir, 'site'), { recursive: true });
    await writeFile(path.join(dir, 'lib/templates/install.sh.hbs'), 'x');
    await writeFile(path.join(dir, 'lib/local.deb'), 'x');
    await writeFile(
      path.join(dir, 'lib/lib.yaml'),
      `name: lib\nbase:\n  path: ../../base/base.iso\n  sha256: ${HASH}\npackages:\n  debs: ["\${DEB}"]\nvars:\n  DEB: local.deb\n`,
    );
  });

  it('resolves a default path against the profile that wrote its section, and ${VAR} paths against their writer', async () => {
    await writeFile(path.join(dir, 'site/site.yaml'), 'extends: ../lib/lib.yaml\nname: site\npackages:\n  onIso: true\n');
    const p = await loadProfile(path.join(dir, 'site/site.yaml'));
    expect(p.packages?.installScript).toBe(path.join(dir, 'lib/templates/install.sh.hbs'));
    expect(p.packages?.debs).toEqual([path.join(dir, 'lib/local.deb')]);
  });

  it('a !replace of the section makes the replacing profile its writer; a missing default fails on load', async () => {
    await writeFile(path.join(dir, 'site/replace.yaml'), 'extends: ../lib/lib.yaml\nname: site\npackages: !replace\n  onIso: true\n');
    const err = await loadError(path.join(dir, 'site/replace.yaml'));
    expect(err.message).toMatch(/replace\.yaml:\d+:\d+: packages\.installScript: file not found: .*site\/templates\/install\.sh\.hbs$/);
    expect(err.hint).toContain(path.join(dir, 'site'));
  });

  it('checks every path field on load (validate), not only at build time', async () => {
    await writeFile(path.join(dir, 'site/missing.yaml'), 'extends: ../lib/lib.yaml\nname: site\npackages:\n  debs: [nope.deb]\n');
    const err = await loadError(path.join(dir, 'site/missing.yaml'));
    expect(err.message).toMatch(/missing\.yaml:4:10: packages\.debs\[1\]: file not found: .*site\/nope\.deb$/);
  });
});

describe('YAML limits (#13)', () => {
  it('refuses an alias bomb with a usage error', async () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    const err = await loadError(await child(`name: bomb\n${levels.join('\n')}\n`, 'bomb.yaml'));
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/bomb\.yaml: YAML aliases expand too far/);
  });

  it('keeps a few aliases working', async () => {
    const p = await loadProfile(await child('extends: ../base/base.yaml\nname: c\nchroot:\n  env: &e {X: "1"}\nvars: *e\n', 'alias.yaml'));
    expect(p.vars).toEqual({ WHO: 'base', ONLY_BASE: 'kept', X: '1' });
  });

  it('refuses a profile larger than 1 MiB before reading it', async () => {
    const file = await child(`name: big\n# ${'x'.repeat(1024 * 1024)}\n`, 'big.yaml');
    const err = await loadError(file);
    expect(err.message).toMatch(/^profile .*big\.yaml is too large: \d+ bytes \(at most 1048576\)$/);
  });
});
