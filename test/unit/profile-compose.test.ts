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
    const data = { packages: { debs: ['a.deb', '/abs.deb'], images: [{ archive: 'i.tar' }], charts: [{ path: 'c.tgz' }, { repo: 'charts' }], installScript: 't.hbs', signingKey: '${KEY}' } };
    absolutizePaths(data, '/base');
    expect(data.packages).toEqual({
      debs: ['/base/a.deb', '/abs.deb'],
      images: [{ archive: '/base/i.tar' }],
      charts: [{ path: '/base/c.tgz' }, { repo: '/base/charts' }],
      installScript: '/base/t.hbs',
      signingKey: '${KEY}',
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
