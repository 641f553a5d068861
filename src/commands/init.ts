/**
 * `iso-build init DIR`: a new profile directory that builds as it is (on the fixture base ISO): profile.yaml
 * extending profiles/fixture.yaml, the autoinstall templates to edit, an overlay directory and a sample hook.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { usageError } from '../errors.js';
import { packageRoot } from '../package-root.js';

const PACKAGE_ROOT = packageRoot();
export const FIXTURE_PROFILE = join(PACKAGE_ROOT, 'profiles/fixture.yaml');
export const TEMPLATES_DIR = join(PACKAGE_ROOT, 'profiles/templates');

function profileName(dir: string): string {
  const name = basename(dir).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return name === '' ? 'my-appliance' : name;
}

export function initProfileYaml(name: string, fixture: string): string {
  return `# Made by \`iso-build init\`. Build it with: iso-build v1.0.0 --profile ${name}/profile.yaml
# It extends the fixture profile (base ISO, compression, chroot commands): keys here override it, lists are
# appended (tag a list !replace to replace it). See docs/profile.md for every field.
extends: ${fixture}
name: ${name}
product: ${name}
volumeLabel: ${name.toUpperCase().replace(/[^A-Z0-9_.-]/g, '_').slice(0, 32)}
overlay:
  - source: overlay/rootfs
    target: /
autoinstall:
  userData: templates/user-data.yaml.hbs
  metaData: templates/meta-data.yaml.hbs
  hostname: ${name}
  username: admin
  passwordHash: \${ADMIN_PASSWORD_HASH}
  sshKeys: []
  lateCommands: !replace []
bootMenu:
  timeout: 1
hooks:
  post-customize:
    - hooks/post-customize.sh
`;
}

const HOOK = `#!/bin/sh
# Runs inside the rootfs (chroot) after the chroot commands. Environment: ISO_BUILD_HOOK, ISO_BUILD_VERSION,
# ISO_BUILD_PROFILE, ISO_BUILD_ROOTFS (/ here), ISO_BUILD_ISO_TREE, ISO_BUILD_OUTPUT_ISO. A non-zero exit fails the build.
set -eu
echo "customized for $ISO_BUILD_PROFILE $ISO_BUILD_VERSION" > /etc/iso-build-customized
`;

export async function initCommand(dirArg: string): Promise<number> {
  const dir = resolve(dirArg);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw usageError(`${dirArg} exists and is not empty`, 'init only writes into a new or empty directory');
  }
  const name = profileName(dir);
  mkdirSync(join(dir, 'templates'), { recursive: true });
  mkdirSync(join(dir, 'overlay/rootfs/etc'), { recursive: true });
  mkdirSync(join(dir, 'hooks'), { recursive: true });
  // every shipped template (autoinstall, and install.sh.hbs which packages.installScript defaults to)
  for (const t of readdirSync(TEMPLATES_DIR)) copyFileSync(join(TEMPLATES_DIR, t), join(dir, 'templates', t));
  writeFileSync(join(dir, 'overlay/rootfs/etc', `${name}-release`), `${name}\n`);
  writeFileSync(join(dir, 'hooks/post-customize.sh'), HOOK);
  chmodSync(join(dir, 'hooks/post-customize.sh'), 0o755);
  let fixture = relative(dir, FIXTURE_PROFILE);
  if (!fixture.startsWith('.')) fixture = `./${fixture}`;
  writeFileSync(join(dir, 'profile.yaml'), initProfileYaml(name, fixture));
  process.stdout.write(
    [
      `created ${dirArg}/: profile.yaml, templates/ (autoinstall), overlay/rootfs/, hooks/post-customize.sh`,
      `check it:  iso-build profile validate ${join(dirArg, 'profile.yaml')}`,
      `build it:  iso-build v1.0.0 --profile ${join(dirArg, 'profile.yaml')}`,
      '',
    ].join('\n'),
  );
  return 0;
}
