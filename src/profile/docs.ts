/**
 * Renders docs/profile.md from the schema, so the reference cannot drift from the code
 * (test/unit/profile-docs.test.ts fails when the committed file is stale).
 */
import * as z from 'zod';
import { stringify } from 'yaml';
import { DEFAULT_PROFILE, ProfileDocumentSchema } from './schema.js';
import { acceptsFalse, defaultOf, descriptionOf, isOptional, metaOf, unwrap } from './schema-walk.js';

type Schema = z.core.$ZodType;

export interface FieldDoc {
  key: string;
  type: string;
  default: string;
  description: string | undefined;
}

/** A valid profile showing every field (alternatives commented out); the docs test checks both. */
export const EXAMPLE_PROFILE = `# profiles/novasphere.yaml
name: novasphere
product: NovaSphere Appliance
volumeLabel: NOVASPHERE
base:
  # Exactly one of path / url; at least one of sha256 / sha256sums.
  url: https://releases.ubuntu.com/24.04.2/ubuntu-24.04.2-live-server-amd64.iso
  # path: base/ubuntu-24.04.2-live-server-amd64.iso
  sha256sums: base/SHA256SUMS
  # sha256: d6dab0c3a657988501b4bd76f1297c053df710e06e0c3aece60dead24f270b4d
  layout: casper-layered
  rootfsLayer: ubuntu-server-minimal.squashfs
rootfs:
  compression: zstd
  compressionLevel: 19
  strategy: auto
overlay:
  - source: overlay/rootfs
    target: /
  - source: overlay/firstboot
    target: /opt/novasphere
    owner: "1000:1000"
  - source: overlay/iso
    target: /novasphere
    into: iso
chroot:
  env:
    DEBIAN_FRONTEND: noninteractive
  commands:
    - apt-get update
    - apt-get install -y --no-install-recommends nginx
    - systemctl enable novasphere-firstboot.service
packages:
  system: [k3s-selinux, "open-iscsi=2.1.5-1ubuntu1"]
  recommends: false
  # Default: the target's own /etc/apt sources.
  sources:
    - uri: host-mirror
      suites: [jammy, jammy-updates]
      components: [main, universe]
      signedBy: /usr/share/keyrings/ubuntu-archive-keyring.gpg
  architecture: amd64
  debs: [payload/debs/k3s_1.30.4+k3s1_amd64.deb]
  images:
    # pinned in novasphere.lock.yaml by \`iso-build packages lock\`
    - ref: docker.io/longhornio/longhorn-manager:v1.7.1
      platform: linux/amd64
      format: docker-archive
    - archive: payload/images/app-1.0.tar
      reference: registry.example.com/team/app:1.0
  imageArchive: per-image                # or bundle: the pulled images in one NAME-images.tar
  charts:
    - name: longhorn
      version: 1.7.x
      repo: https://charts.longhorn.io
    - name: kubevirt
      version: 1.3.1
      path: payload/charts/kubevirt-1.3.1.tgz
  files:
    - url: https://example.com/releases/v1.30.4%2Bk3s1/k3s
      sha256: 3f4c2b0e8f5a6d7c9b1e2a3d4c5b6a7980f1e2d3c4b5a6978877665544332211
      dest: k3s/k3s
      mode: "0755"
    - url: https://example.com/releases/v1.30.4%2Bk3s1/k3s-airgap-images-amd64.tar.zst
      # or sha256: <hex>; with neither, the lock pins what it downloads
      sha256sums: https://example.com/releases/v1.30.4%2Bk3s1/sha256sum-amd64.txt
      dest: k3s/k3s-airgap-images-amd64.tar.zst
      k3sImages: true
  caFile: certs/registry-ca.pem
  signingKey: keys/packages-signing.asc
  k3sAirgap: true
  onIso: true
  installScript: templates/install.sh.hbs
# First boot of the installed system: novasphere-bringup.service runs /opt/novasphere/bringup.sh.
bringup:
  k3s:
    binary: payload/k3s/k3s
    # binaryFile: k3s/k3s            instead of binary: a packages.files dest, used in the payload (not copied)
    installScript: payload/k3s/install.sh
    # installScriptFile: k3s/install.sh
    exec: server --disable traefik
    mirrors:
      - registry: docker.io
        endpoints: [https://registry.example.internal:5000]
  charts:
    - name: longhorn
      targetNamespace: longhorn-system
      values:
        defaultSettings: { defaultReplicaCount: 1 }
  runtime: auto
  serialMarker: true
  script: templates/bringup.sh.hbs
output:
  name: "{{name}}-{{version}}-amd64.iso"
sourceDateEpoch: 1735689600
release:
  gpgKey: 7D2E1A2BC0FFEE5E3D4C1B2A99887766554433AA
autoinstall:
  userData: autoinstall/user-data.yaml.hbs
  metaData: autoinstall/meta-data.yaml.hbs
  release: "24.04"
  hostname: novasphere
  username: admin
  realname: NovaSphere Admin
  # or \${ADMIN_PASSWORD_HASH} from vars: / the environment
  passwordHash: $6$salt$TmMLH0UoWvsMl13hntCrwAY6blDy48W5ib3uwI3H4fuqcQ5QGIfZXwMf6Lt.sa3hJJYj0oA/KgxsSXoGnEByz/
  sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKey admin@example"]
  locale: en_US.UTF-8
  keyboard:
    layout: de
    variant: nodeadkeys
  timezone: Europe/Berlin
  storage: lvm
  packages: [open-iscsi]
  lateCommands:
    - curtin in-target -- systemctl enable novasphere-firstboot.service
bootMenu:
  title: Install {{product}} {{version}} (automatic)
  timeout: 5
  default: 0
  kernelArgs: ["console=ttyS0,115200"]
  installedKernelArgs: ["console=ttyS0,115200"]
hooks:
  pre-customize: [hooks/check-base.sh]
  post-customize: [hooks/harden.sh]
  pre-repack: [hooks/sbom.sh]
  post-build: [hooks/upload.sh]
timeouts:
  hook: 1800
  chrootCommand: 3600
vars:
  MIRROR: http://mirror.example.org/ubuntu
# extends: base.yaml
`;

function numberType(schema: z.ZodNumber): string {
  const base = schema.isInt ? 'integer' : 'number';
  const min = schema.minValue !== null && schema.minValue > Number.MIN_SAFE_INTEGER ? schema.minValue : undefined;
  const max = schema.maxValue !== null && schema.maxValue < Number.MAX_SAFE_INTEGER ? schema.maxValue : undefined;
  if (min !== undefined && max !== undefined) return `${base} ${min}–${max}`;
  if (min !== undefined) return `${base} ≥ ${min}`;
  return max !== undefined ? `${base} ≤ ${max}` : base;
}

function typeName(schema: Schema): string {
  const inner = unwrap(schema);
  if (acceptsFalse(schema)) return `${typeName(inner)} or \`false\``;
  if (inner instanceof z.ZodEnum) return `one of ${inner.options.map((o) => `\`${String(o)}\``).join(', ')}`;
  if (inner instanceof z.ZodNumber) return numberType(inner);
  if (inner instanceof z.ZodObject) return 'mapping';
  if (inner instanceof z.ZodRecord) return `mapping of string to ${typeName(inner.valueType)}`;
  if (inner instanceof z.ZodArray) {
    const element = typeName(inner.element);
    return element === 'mapping' ? 'list of mappings' : `list of ${element}s`;
  }
  if (inner instanceof z.ZodStringFormat && inner.format === 'url') return 'URL';
  return inner._zod.def.type;
}

function defaultText(schema: Schema): string {
  // Defaults computed from other fields are documented with .meta({ defaultText }).
  const text = metaOf(schema, 'defaultText');
  if (typeof text === 'string') return text;
  const fallback = defaultOf(schema);
  if (fallback !== undefined) {
    const { value } = fallback;
    // Objects filled from their fields' defaults: the fields' rows say what they are.
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0 && unwrap(schema) instanceof z.ZodObject) {
      return '(see fields)';
    }
    return `\`${stringify(value).trim()}\``;
  }
  return isOptional(schema) ? '—' : '**required**';
}

/** One row per field, parents before children, `[]` marking list elements. */
export function profileFields(schema: Schema = ProfileDocumentSchema, prefix = ''): FieldDoc[] {
  const inner = unwrap(schema);
  if (!(inner instanceof z.ZodObject)) return [];
  return Object.entries(inner.shape).flatMap(([name, field]: [string, Schema]) => {
    const key = `${prefix}${name}`;
    const row = { key, type: typeName(field), default: defaultText(field), description: descriptionOf(field) };
    const child = unwrap(field);
    const nested = child instanceof z.ZodArray ? profileFields(child.element, `${key}[].`) : profileFields(child, `${key}.`);
    return [row, ...nested];
  });
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

export function renderProfileDocs(): string {
  const rows = profileFields().map((f) => `| \`${f.key}\` | ${cell(f.type)} | ${cell(f.default)} | ${cell(f.description ?? '')} |`);
  return [
    '# Profile format',
    '',
    '<!-- Generated from src/profile/schema.ts by scripts/gen-profile-docs.ts; do not edit by hand. -->',
    '',
    `A profile is a YAML file (default: \`${DEFAULT_PROFILE}\`) describing how to remaster a base Ubuntu`,
    'live-server ISO. Relative paths in it are relative to the directory of the profile file.',
    '',
    '- Unknown keys are errors, at every level.',
    '- Errors name the file, `line:col`, the key path (e.g. `overlay[1].target`) and what was expected.',
    '- `base.sha256sums` is looked up for the ISO\'s file name and becomes `base.sha256`.',
    '- `--base <iso> --base-sha256 <sha256>` replace `base.path`/`base.url` and `base.sha256`/`base.sha256sums`.',
    '',
    '## Fields',
    '',
    '| Field | Type | Default | Description |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    '## Example',
    '',
    '```yaml',
    EXAMPLE_PROFILE.trimEnd(),
    '```',
    '',
  ].join('\n');
}
