import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IsoBuildError } from '../../src/errors.js';
import { renderAutoinstall, validateUserData } from '../../src/profile/autoinstall.js';
import { loadProfile } from '../../src/profile/load.js';
import type { Profile } from '../../src/profile/schema.js';

let tmp: string;
let fixture: Profile;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'iso-build-autoinstall-'));
  fixture = await loadProfile('profiles/fixture.yaml', { basePath: 'x.iso', baseSha256: 'a'.repeat(64) });
});
afterAll(async () => rm(tmp, { recursive: true, force: true }));

function caught(fn: () => unknown): IsoBuildError {
  try {
    fn();
  } catch (err) {
    if (err instanceof IsoBuildError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

async function withTemplate(text: string, extra: Partial<NonNullable<Profile['autoinstall']>> = {}): Promise<Profile> {
  const file = path.join(tmp, `t${Math.random().toString(36).slice(2)}.yaml.hbs`);
  await writeFile(file, text);
  return { ...fixture, autoinstall: { ...fixture.autoinstall!, userData: file, ...extra } };
}

describe('renderAutoinstall', () => {
  it('renders the fixture templates into valid cloud-init', () => {
    const out = renderAutoinstall(fixture, 'v1.2.3');
    const data = parse(out.userData) as { autoinstall: Record<string, unknown> };
    expect(out.userData.startsWith('#cloud-config\n')).toBe(true);
    expect(data.autoinstall).toMatchObject({
      version: 1,
      identity: { hostname: 'novasphere-fixture', username: 'novasphere', realname: 'NovaSphere Admin' },
      timezone: 'Etc/UTC',
      storage: { layout: { name: 'lvm' } },
      'late-commands': ['echo installed > /target/etc/novasphere-installed'],
    });
    expect((data.autoinstall.identity as { password: string }).password).toMatch(/^\$6\$novasphere\$/);
    expect(out.metaData).toBe('instance-id: novasphere-fixture-v1.2.3\nlocal-hostname: novasphere-fixture\n');
    expect(out.writeRootYaml).toBe(false);
  });

  it('writes /autoinstall.yaml for 24.04 and later', () => {
    expect(renderAutoinstall({ ...fixture, autoinstall: { ...fixture.autoinstall!, release: '24.04' } }, 'v1').writeRootYaml).toBe(true);
  });

  it('the NovaSphere template installs offline and checks /opt/novasphere reached the disk', async () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvH0n ops@site';
    const profile = { ...fixture, autoinstall: { ...fixture.autoinstall!, userData: path.resolve('profiles/novasphere/user-data.yaml.hbs'), lateCommands: ['true'], sshKeys: [key] } };
    const data = parse(renderAutoinstall(profile, 'v1').userData) as { autoinstall: Record<string, unknown> };
    // SSH login with the profile's keys (release-preflight accepts keys instead of NOVASPHERE_ADMIN_HASH)
    expect(data.autoinstall['ssh']).toEqual({ 'install-server': true, 'allow-pw': false, 'authorized-keys': [key] });
    expect(data.autoinstall['apt']).toMatchObject({ geoip: false, fallback: 'offline-install' });
    expect(JSON.stringify(data.autoinstall['apt'])).not.toMatch(/https?:/);
    // the payload reaches the disk in the rootfs layer; the copy from the live session is only a fallback
    expect(data.autoinstall['late-commands']).toEqual([
      '[ ! -d /opt/novasphere ] || [ -s /target/opt/novasphere/VERSION ] || cp -a /opt/novasphere/. /target/opt/novasphere/',
      'test -s /target/opt/novasphere/VERSION',
      'true',
    ]);
  });

  it('refuses an unknown variable with the template line', async () => {
    const profile = await withTemplate('#cloud-config\nautoinstall:\n  version: 1\n  locale: {{locle}}\n');
    const err = caught(() => renderAutoinstall(profile, 'v1'));
    expect(err.message).toMatch(/\.yaml\.hbs:4: template error: "locle" not defined/);
  });
});

describe('validateUserData', () => {
  const T = 'user-data.yaml.hbs';
  it.each([
    ['a string where a list is expected', 'autoinstall:\n  version: 1\n  packages: nginx\n', /^user-data\.yaml\.hbs: rendered line 3: autoinstall\.packages: expected a list, got "nginx"$/, /line 3 is: packages: nginx/],
    ['a wrong version', 'autoinstall:\n  version: 2\n', /rendered line 2: autoinstall\.version: must be <= 1, got 2/, /./],
    ['no version', 'autoinstall:\n  locale: C\n', /rendered line 2: autoinstall\.version: missing required key/, /./],
    ['a bad nested type', 'autoinstall:\n  version: 1\n  ssh:\n    install-server: "yes"\n', /rendered line 4: autoinstall\.ssh\["install-server"\]: expected true or false, got "yes"/, /./],
    ['a bad command', 'autoinstall:\n  version: 1\n  late-commands:\n    - {a: 1}\n', /rendered line 4: autoinstall\["late-commands"\]\[0\]: expected a string or a list, got a mapping/, /./],
    ['invalid YAML', 'autoinstall:\n  version: 1\n  locale: [\n', /^user-data\.yaml\.hbs: rendered line \d+: invalid YAML/, /./],
  ])('refuses %s', (_what, text, message, hint) => {
    const err = caught(() => validateUserData(T, text));
    expect(err.message).toMatch(message);
    expect(err.hint).toMatch(hint);
  });

  it('refuses, like subiquity, what its schema for the release refuses', () => {
    // identity has additionalProperties: false in both schemas
    expect(caught(() => validateUserData(T, 'autoinstall:\n  version: 1\n  identity: {hostname: h, username: u, password: p, shell: /bin/sh}\n')).message).toMatch(
      /rendered line 3: unknown key "shell" at autoinstall\.identity/,
    );
    // a list of commands inside late-commands must hold strings
    expect(caught(() => validateUserData(T, 'autoinstall:\n  version: 1\n  late-commands:\n    - [1, 2]\n')).message).toMatch(/autoinstall\["late-commands"\]\[0\]\[0\]: expected a string, got 1/);
  });

  it('an unknown top-level key is a warning with a did-you-mean, not an error (subiquity, autoinstall version 1)', () => {
    const warnings = validateUserData(T, 'autoinstall:\n  version: 1\n  pakages: [a]\n');
    expect(warnings).toEqual([expect.stringMatching(/^user-data\.yaml\.hbs: rendered line 3: unknown key "pakages" at autoinstall: subiquity \(autoinstall version 1\) ignores it \(did you mean "packages"\?\)$/)]);
  });

  it('follows the schema of the target release: 24.04 sections are unknown (a warning) for 22.04', () => {
    const text = 'autoinstall:\n  version: 1\n  codecs: {install: true}\n  oem: {install: auto}\n';
    expect(validateUserData(T, text, '24.04')).toEqual([]);
    expect(validateUserData(T, text, '22.04')).toEqual([
      expect.stringMatching(/rendered line 3: unknown key "codecs"/),
      expect.stringMatching(/rendered line 4: unknown key "oem"/),
    ]);
    // and their types are checked where the release knows them
    expect(caught(() => validateUserData(T, 'autoinstall:\n  version: 1\n  codecs: {install: "yes"}\n', '24.04')).message).toMatch(/autoinstall\.codecs\.install: expected true or false, got "yes"/);
  });

  it('accepts what subiquity accepts and the hand-copied schema refused, and the other way round', () => {
    // drivers.install is not required, ssh takes keys it does not know
    expect(validateUserData(T, 'autoinstall:\n  version: 1\n  drivers: {}\n  ssh: {install-server: true, x-note: 1}\n', '24.04')).toEqual([]);
    // kernel needs a package or a flavor (subiquity's oneOf)
    expect(caught(() => validateUserData(T, 'autoinstall:\n  version: 1\n  kernel: {}\n')).message).toMatch(/rendered line 3: autoinstall\.kernel(\.package|\.flavor)?: missing required key/);
    // 22.04's source section requires search_drivers; 24.04's does not
    expect(caught(() => validateUserData(T, 'autoinstall:\n  version: 1\n  source: {id: ubuntu-server}\n', '22.04')).message).toMatch(/autoinstall\.source\.search_drivers: missing required key/);
    expect(validateUserData(T, 'autoinstall:\n  version: 1\n  source: {id: ubuntu-server}\n', '24.04')).toEqual([]);
  });

  it('refuses user-data without autoinstall', () => {
    expect(caught(() => validateUserData(T, '#cloud-config\nusers: []\n')).message).toContain('no top-level "autoinstall:" section');
  });

  it('accepts a full autoinstall and other cloud-config keys', () => {
    expect(
      validateUserData(
        T,
        `#cloud-config
autoinstall:
  version: 1
  early-commands: [true, ["sh", "-c", "x"]]
  identity: {hostname: h, username: u, password: "$6$x$y"}
  ssh: {install-server: true, authorized-keys: [], allow-pw: false}
  storage: {layout: {name: direct}}
  network: {version: 2, ethernets: {any: {match: {name: "en*"}, dhcp4: true}}}
  updates: security
  shutdown: poweroff
  oem: {install: auto}
  user-data: {disable_root: false}
`.replace('[true, ', '["true", '),
        '24.04',
      ),
    ).toEqual([]);
  });
});
