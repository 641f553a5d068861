/**
 * The profile format: this zod schema is the single source of the TypeScript types, the
 * validation, the defaults and docs/profile.md (scripts/gen-profile-docs.ts walks it), so
 * every field carries a description.
 *
 * The schema checks everything that can be checked from the YAML alone. Resolving relative
 * paths and checking that files exist is src/profile/load.ts's job, because it needs the
 * profile's location.
 *
 * Custom messages start with "expected ..." so src/profile/issues.ts can use them verbatim
 * after the key path and append the offending value.
 */
import * as z from 'zod';
import semver from 'semver';
import {
  ENV_NAME_PATTERN,
  NAME_PATTERN,
  OWNER_PATTERN,
  SHA256_PATTERN,
  SQUASHFS_NAME_PATTERN,
  VOLUME_LABEL_PATTERN,
  isPlainFileName,
  isSafeTarget,
  normalizeTarget,
} from './checks.js';
import { OUTPUT_NAME_VARIABLES, TemplateError, renderTemplate } from './template.js';
import { AutoinstallSchema, BootMenuSchema, ExtendsSchema, HooksSchema, VarsSchema } from './schema-autoinstall.js';
import { profilePath } from './schema-marks.js';
import { BringupSchema } from './schema-bringup.js';

export const DEFAULT_PROFILE = 'profiles/novasphere.yaml';
export const DEFAULT_OUTPUT_NAME = '{{name}}-{{version}}.iso';

export const CompressionSchema = z
  .enum(['auto', 'xz', 'zstd', 'gzip'])
  .describe('Compressor for the rebuilt root filesystem squashfs.');
export type Compression = z.infer<typeof CompressionSchema>;
/** What mksquashfs is given: `auto` resolved from the base (base-compression.ts). */
export type PackCompression = Exclude<Compression, 'auto'>;

export const BaseLayoutSchema = z
  .enum(['auto', 'casper', 'casper-layered', 'debian-live'])
  .describe('Layout of the base ISO.');
export type BaseLayout = z.infer<typeof BaseLayoutSchema>;

/** Valid `compressionLevel` per compressor; undefined = the compressor takes no level here. */
export const COMPRESSION_LEVELS: Record<Compression, { min: number; max: number } | undefined> = {
  // auto takes the base's own level; mksquashfs' xz has no level option (only dictionary size / BCJ filters).
  auto: undefined,
  xz: undefined,
  zstd: { min: 1, max: 22 },
  gzip: { min: 1, max: 9 },
};

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

const sha256 = z
  .string()
  .regex(SHA256_PATTERN, 'expected a SHA-256: 64 hexadecimal characters')
  .transform((hex) => hex.toLowerCase());

/** Marks issues about how fields combine, where echoing the one value adds nothing. */
export const OMIT_VALUE = { omitValue: true };

function checkBase(
  base: { path?: string; url?: string; sha256?: string; sha256sums?: string; layout: BaseLayout; rootfsLayer?: string },
  ctx: z.RefinementCtx,
): void {
  if (base.path !== undefined && base.url !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'expected either base.path or base.url, not both', params: OMIT_VALUE });
  } else if (base.path === undefined && base.url === undefined) {
    ctx.addIssue({ code: 'custom', path: [], message: 'expected base.path (a local ISO) or base.url (where to download it)' });
  }
  if (base.sha256 === undefined && base.sha256sums === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: [],
      message: "expected base.sha256 or base.sha256sums: the base ISO's SHA-256 is required",
    });
  }
  if (base.rootfsLayer !== undefined && (base.layout === 'casper' || base.layout === 'debian-live')) {
    ctx.addIssue({
      code: 'custom',
      path: ['rootfsLayer'],
      message: `expected no rootfsLayer with layout "${base.layout}" (only layered casper ISOs have layers)`,
    });
  }
}

export const BaseSchema = z
  .strictObject({
    path: profilePath()
      .optional()
      .describe('Local base ISO, relative to the profile file\'s directory. Exactly one of `path` / `url`.'),
    url: httpUrl
      .optional()
      .describe('http(s) URL of the base ISO. Exactly one of `path` / `url`.'),
    sha256: sha256
      .optional()
      .describe('SHA-256 of the base ISO (64 hex characters, any case). At least one of `sha256` / `sha256sums`.'),
    sha256sums: profilePath()
      .optional()
      .describe(
        'A SHA256SUMS file (relative to the profile file\'s directory) that lists the ISO\'s file name. ' +
          'At least one of `sha256` / `sha256sums`; if both are given they must agree.',
      ),
    layout: BaseLayoutSchema.default('auto').describe(
      'Layout of the base ISO: `casper` (one filesystem.squashfs), `casper-layered` (Ubuntu >= 20.10 server: ' +
        'stacked casper/*.squashfs layers), `debian-live` (live/filesystem.squashfs), or `auto` to detect it.',
    ),
    rootfsLayer: z
      .string()
      .regex(SQUASHFS_NAME_PATTERN, 'expected a file name in casper/ ending in .squashfs, e.g. "ubuntu-server-minimal.squashfs"')
      .optional()
      .meta({
        description: 'Layered casper only: which `casper/*.squashfs` layer to customize.',
        defaultText: 'the layer casper/install-sources.yaml marks as default',
      }),
  })
  .superRefine(checkBase)
  .describe('The base ISO to remaster.');
export type ProfileBase = z.output<typeof BaseSchema>;

function checkCompressionLevel(rootfs: { compression: Compression; compressionLevel?: number }, ctx: z.RefinementCtx): void {
  if (rootfs.compressionLevel === undefined) return;
  const range = COMPRESSION_LEVELS[rootfs.compression];
  const message =
    range === undefined
      ? `expected no compressionLevel with compression "${rootfs.compression}" (${rootfs.compression === 'auto' ? "auto takes the base's own level; " : ''}only zstd and gzip take a level)`
      : rootfs.compressionLevel < range.min || rootfs.compressionLevel > range.max
        ? `expected an integer from ${range.min} to ${range.max} for ${rootfs.compression}`
        : undefined;
  if (message !== undefined) ctx.addIssue({ code: 'custom', path: ['compressionLevel'], message });
}

export const RootfsSchema = z
  .strictObject({
    compression: CompressionSchema.default('auto').describe(
      'Compressor for the rebuilt root filesystem squashfs: `xz`, `zstd` or `gzip`, or `auto`: the base squashfs\'s own ' +
        'compressor and level (xz when it uses one mksquashfs here cannot write back). Packed like the base, a single ' +
        'squashfs takes the changes by a merge that reuses its compressed blocks; otherwise the whole rootfs is compressed again.',
    ),
    compressionLevel: z
      .number()
      .int()
      .optional()
      .meta({ description: 'Compression level: zstd 1-22, gzip 1-9; not allowed with xz or auto.', defaultText: "the compressor's own default (auto: the base's)" }),
    strategy: z
      .enum(['auto', 'repack', 'layer'])
      .default('auto')
      .describe(
        'How changes reach the ISO. `repack`: unpack the rootfs squashfs, change it, pack it again. `layer` (layered casper only): ' +
          'put the changes into a new small top squashfs registered in install-sources.yaml, copying the base layers untouched ' +
          '(no recompression). `auto`: `layer` for layered casper bases, `repack` otherwise.',
      ),
  })
  .superRefine(checkCompressionLevel)
  .describe('How the customized root filesystem is packed.');

export const OverlayMappingSchema = z
  .strictObject({
    source: profilePath('directory').describe('Directory whose contents are copied, relative to the profile file\'s directory.'),
    target: z
      .string()
      .refine(isSafeTarget, "expected an absolute path inside the rootfs without '..'")
      .transform(normalizeTarget)
      .describe(
        'Absolute POSIX path inside the destination (`/` is its root). `..` segments, backslashes and NUL are rejected. ' +
          'Symlinks inside the rootfs are resolved safely at copy time.',
      ),
    into: z
      .enum(['rootfs', 'iso'])
      .default('rootfs')
      .describe('Destination tree: `rootfs` (the installed/live root filesystem) or `iso` (the ISO 9660 file tree).'),
    owner: z
      .string()
      .regex(OWNER_PATTERN, 'expected "user:group" (names or numeric ids) or "keep"')
      .default('root:root')
      .describe('Owner of the copied files: `user:group` with names or numeric ids, or `keep` to keep the source files\' owners.'),
  })
  .describe('One directory tree to copy into the rootfs or the ISO.');
export type OverlayMapping = z.output<typeof OverlayMappingSchema>;

export const ChrootSchema = z
  .strictObject({
    commands: z
      .array(z.string().min(1).describe('A shell command line.'))
      .default(() => [])
      .describe(
        'Commands run in order with `/bin/sh -c` inside the rootfs; the build fails on the first non-zero exit. ' +
          'Environment: `chroot.env` and `ISO_BUILD_PROFILE`; not the version, so that their result is reused across versions ' +
          '(the stage cache): use a `pre-customize` hook (which gets `ISO_BUILD_VERSION`) for a command that needs it.',
      ),
    env: z
      .record(z.string().regex(ENV_NAME_PATTERN, 'expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*)'), z.string())
      .default(() => ({}))
      .describe('Extra environment variables for the chroot commands. Values must be strings (quote numbers in YAML).'),
  })
  .describe('Customization commands run inside the root filesystem.');

/** A Debian package name, optionally `:arch` and `=version` (apt-get install syntax). */
const DEB_PACKAGE_PATTERN = /^[a-z0-9][a-z0-9+.-]*(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$/;

export const PackageSourceSchema = z
  .strictObject({
    uri: z
      .string()
      .refine((u) => u === 'host-mirror' || /^(https?|file):\/\/?\S+$/.test(u), 'expected an http(s):// or file:/ URL, or "host-mirror"')
      .describe(
        'Repository URL, or `host-mirror`: the build host\'s Debian mirror (`$ISO_BUILD_MIRROR`, else the first non-security ' +
          '`URIs:` of /etc/apt/sources.list.d/*.sources, else the first `deb` line of /etc/apt/sources.list).',
      ),
    suites: z.array(z.string().min(1)).min(1).describe('Suites (distributions), e.g. `bookworm`, `jammy-updates`.'),
    components: z.array(z.string().min(1)).default(() => ['main']).describe('Components, e.g. `main`, `universe`.'),
    signedBy: z
      .string()
      .refine(isSafeTarget, "expected an absolute path inside the rootfs without '..'")
      .optional()
      .meta({
        description: 'Keyring that signs this repository: a path inside the target rootfs.',
        defaultText: "the target's /etc/apt/trusted.gpg.d",
      }),
  })
  .describe('One apt repository used to resolve `packages.system`.');
export type PackageSource = z.output<typeof PackageSourceSchema>;

/** An image reference: [registry[:port]/]path[:tag][@sha256:hex] (lower-case path, as the distribution spec says). */
const IMAGE_REF_PATTERN = /^[a-z0-9][a-z0-9._\/:-]*(@sha256:[0-9a-f]{64})?$/;

const IMAGE_ARCHIVE_FORMATS = ['docker-archive', 'oci-archive'] as const;

function checkImageSource(img: { archive?: string; reference?: string; ref?: string; platform?: string; format?: string }, ctx: z.RefinementCtx): void {
  if ((img.archive === undefined) === (img.ref === undefined)) {
    ctx.addIssue({ code: 'custom', path: [], message: 'expected exactly one of archive (a local image archive) / ref (an image in a registry)', params: OMIT_VALUE });
    return;
  }
  if (img.archive !== undefined) {
    if (img.reference === undefined) ctx.addIssue({ code: 'custom', path: ['reference'], message: 'expected reference: the image the archive provides' });
    if (img.platform !== undefined || img.format !== undefined) {
      ctx.addIssue({ code: 'custom', path: [], message: 'expected platform and format only with ref (a local archive is used as it is)', params: OMIT_VALUE });
    }
    return;
  }
  if (img.reference !== undefined) ctx.addIssue({ code: 'custom', path: ['reference'], message: 'expected no reference with ref (ref names the image)' });
  const nameTag = img.ref!.replace(/@sha256:[0-9a-f]{64}$/, '');
  const hasTag = nameTag.lastIndexOf(':') > nameTag.lastIndexOf('/');
  if (!hasTag && (img.format ?? 'docker-archive') === 'docker-archive') {
    ctx.addIssue({
      code: 'custom',
      path: ['ref'],
      message: 'expected a tag in ref for a docker-archive (it names images by tag): "name:tag" or "name:tag@sha256:..."',
    });
  }
}

export const PackageImageSchema = z
  .strictObject({
    ref: z
      .string()
      .regex(IMAGE_REF_PATTERN, 'expected an image reference such as "docker.io/longhornio/longhorn-manager:v1.7.1" or "name:tag@sha256:<hex>"')
      .optional()
      .describe(
        'An image in a registry: `name:tag`, `name@sha256:<hex>` or `name:tag@sha256:<hex>`. `packages lock` pins it to the ' +
          "manifest digest of the target's platform; the build pulls it with skopeo. Exactly one of `ref` / `archive`.",
      ),
    platform: z
      .string()
      .regex(/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/, 'expected os/arch[/variant] such as "linux/arm64"')
      .optional()
      .meta({
        description: 'With `ref`: the platform picked from a multi-platform image.',
        defaultText: '`linux/` + the target architecture (amd64, arm64, arm/v7 for armhf, ...)',
      }),
    format: z
      .enum(IMAGE_ARCHIVE_FORMATS)
      .optional()
      .meta({
        description:
          'With `ref`: the archive written. `docker-archive` (what `docker save` writes and what k3s ships its own air-gap ' +
          'images as): containerd 1.6 / k3s and every Docker load it. `oci-archive`: an OCI layout tarball (containerd ' +
          'imports it; Docker only from 25.0).',
        defaultText: '`docker-archive`',
      }),
    archive: profilePath()
      .optional()
      .describe(
        'A local image archive (docker-archive or OCI layout tarball, optionally .gz or .zst compressed), relative to the ' +
          'profile. Exactly one of `ref` / `archive`.',
      ),
    reference: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._\/:@-]*$/, 'expected an image reference such as "docker.io/rancher/mirrored-pause:3.6"')
      .optional()
      .describe('With `archive`: the image reference the archive provides (checked against the archive\'s own tags).'),
  })
  .superRefine(checkImageSource)
  .describe('One container image: pulled from a registry (`ref`) or a local archive (`archive` + `reference`).');

/** `repo` values that name a remote repository (the rest are local directories). */
export function isRemoteChartRepo(repo: string | undefined): boolean {
  return repo !== undefined && /^(https?|oci):\/\//.test(repo);
}

function checkChartSource(c: { name: string; version: string; path?: string; repo?: string }, ctx: z.RefinementCtx): void {
  if ((c.path === undefined) === (c.repo === undefined)) {
    ctx.addIssue({ code: 'custom', path: [], message: 'expected exactly one of path / repo', params: OMIT_VALUE });
  }
  if (isRemoteChartRepo(c.repo)) {
    if (semver.validRange(c.version) === null) ctx.addIssue({ code: 'custom', path: ['version'], message: 'expected a semver version or range such as "1.7.1" or "~1.7.0"' });
  } else if (semver.valid(c.version) === null && !/^\S+$/.test(c.version)) {
    ctx.addIssue({ code: 'custom', path: ['version'], message: 'expected an exact chart version for a local chart' });
  }
}

export const PackageChartSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a chart name (letters, digits, ".", "_", "-")').describe('Chart name, checked against its Chart.yaml.'),
    version: z
      .string()
      .min(1)
      .describe(
        'Chart version, checked against its Chart.yaml. With a remote `repo` also a semver range (`~1.7.0`, `1.3.x`, ' +
          '`>=1.60 <1.61`): `packages lock` pins the highest version the repository has in the range.',
      ),
    path: profilePath().optional().describe('Chart .tgz, relative to the profile. Exactly one of `path` / `repo`.'),
    repo: z
      .string()
      .min(1)
      .refine((p) => !p.includes('\0'), 'expected a path or URL without NUL characters')
      .meta({ profilePath: 'directory' }) // a local directory is made absolute; a URL is left as it is (compose.ts)
      .optional()
      .describe(
        'A Helm HTTP(S) repository (`https://charts.longhorn.io`: its index.yaml names the .tgz), an OCI registry ' +
          '(`oci://registry/path`: the chart is `registry/path/NAME:VERSION`), or a local directory holding ' +
          '`NAME-VERSION.tgz` relative to the profile. Exactly one of `path` / `repo`.',
      ),
  })
  .superRefine(checkChartSource)
  .describe('One Helm chart.');

export const PackageFileSchema = z
  .strictObject({
    url: httpUrl.describe('Where the file is downloaded from.'),
    sha256: sha256
      .optional()
      .describe(
        'SHA-256 of the file (64 hex characters), checked while it downloads. Without it (and without `sha256sums`) ' +
          '`packages lock` pins the sha256 it downloads (trust on first lock).',
      ),
    sha256sums: httpUrl
      .optional()
      .describe(
        'URL of a checksum file the project publishes (`sha256sum` format: `HEX  NAME` lines, or just `HEX`): ' +
          '`packages lock` takes the line of the URL\'s file name and checks the download against it.',
      ),
    dest: z
      .string()
      .refine((d) => /^[^/\0\\]/.test(d) && d.split('/').every((s) => s !== '' && s !== '.' && s !== '..'), "expected a relative path without '.', '..' or empty segments")
      .describe('Path below /opt/novasphere/packages/files/, e.g. `k3s/k3s`.'),
    mode: z
      .string()
      .regex(/^0?[0-7]{3}$/, 'expected an octal file mode such as "0755"')
      .default('0644')
      .describe('File mode in the payload (quote it in YAML: `"0755"` for binaries and scripts).'),
    k3sImages: z
      .boolean()
      .default(false)
      .describe(
        'The file is an image archive bundle (`k3s-airgap-images-amd64.tar.zst`, docker-archive/OCI, optionally .gz/.zst): ' +
          'checked like an image archive and, with `k3sAirgap`, also copied to /var/lib/rancher/k3s/agent/images/ as it is.',
      ),
  })
  .refine((f) => f.sha256 === undefined || f.sha256sums === undefined, { message: 'expected at most one of sha256 / sha256sums', params: OMIT_VALUE })
  .describe('One file downloaded from a URL (a release binary, an install script, an air-gap image bundle, a .deb).');

export const PackagesSchema = z
  .strictObject({
    system: z
      .array(z.string().regex(DEB_PACKAGE_PATTERN, 'expected a package name, optionally with :arch and =version ("jq", "jq=1.6-2.1")'))
      .default(() => [])
      .describe(
        'Debian packages shipped with their dependency closure: everything the target lacks, resolved with apt against the ' +
          "target's dpkg status, `sources` and `architecture`. `name`, `name=version` or `name:arch`.",
      ),
    recommends: z.boolean().default(false).describe('Also ship the Recommends of `system` packages.'),
    sources: z
      .array(PackageSourceSchema)
      .optional()
      .meta({
        description: 'apt repositories to resolve `system` from.',
        defaultText: "the target's own /etc/apt/sources.list(.d)",
      }),
    architecture: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'expected a Debian architecture such as amd64 or arm64')
      .optional()
      .meta({ description: 'Debian architecture of the payload.', defaultText: "the target's dpkg architecture" }),
    debs: z.array(profilePath()).default(() => []).describe('Local .deb files added to the repository as they are, relative to the profile.'),
    images: z
      .array(PackageImageSchema)
      .default(() => [])
      .describe('Container images (from a registry, pinned in the lock file, or local archives), checked and copied to `images/`.'),
    imageArchive: z
      .enum(['per-image', 'bundle'])
      .default('per-image')
      .describe(
        'How the images pulled by `ref` are written to `images/`: one archive each, or `bundle`: one archive ' +
          '`NAME-images.tar` holding all of them (as `docker save A B` writes it and k3s ships its air-gap images; ' +
          'containerd and k3s import every image in it). A bundle needs one `format` for all of them; local archives ' +
          'stay as they are.',
      ),
    charts: z
      .array(PackageChartSchema)
      .default(() => [])
      .describe('Helm charts (from Helm/OCI repositories, pinned in the lock file, or local), checked and copied to `charts/` with an `index.yaml`.'),
    files: z
      .array(PackageFileSchema)
      .default(() => [])
      .describe('Files downloaded from URLs with a fixed sha256, copied to `files/DEST`.'),
    caFile: profilePath()
      .optional()
      .meta({
        description: 'PEM file of extra CA certificates trusted for registries and HTTPS sources, relative to the profile.',
        defaultText: "the system's CA certificates",
      }),
    signingKey: profilePath()
      .optional()
      .meta({
        description: 'ASCII-armored OpenPGP secret key without passphrase that signs the repository, relative to the profile.',
        defaultText: 'a key generated for the build',
      }),
    k3sAirgap: z.boolean().default(false).describe('Also copy the image archives to /var/lib/rancher/k3s/agent/images/ in the rootfs.'),
    onIso: z.boolean().default(false).describe('Also copy the payload into the ISO tree at `/novasphere/packages/` (for the installer to copy).'),
    installScript: profilePath()
      .default('templates/install.sh.hbs')
      .describe('Handlebars template of /opt/novasphere/install.sh (the offline installer), relative to the profile.'),
  })
  .superRefine((p, ctx) => {
    // docker-archive and OCI archives do not merge into one file
    const formats = new Set(p.images.filter((i) => i.ref !== undefined).map((i) => i.format ?? 'docker-archive'));
    if (p.imageArchive === 'bundle' && formats.size > 1) {
      ctx.addIssue({ code: 'custom', path: ['imageArchive'], message: `expected one images[].format for a bundle, got ${[...formats].join(' and ')}` });
    }
  })
  .describe('Offline payload under /opt/novasphere/packages/: a signed apt repository (system/), images/ and charts/.');
export type PackagesOptions = z.output<typeof PackagesSchema>;

const SAMPLE_VARS = { name: 'name', product: 'product', version: '1.0' };

/** Checks what can be checked without name/product; checkOutputFileName does the rest. */
function outputTemplateProblem(template: string): string | undefined {
  if (!template.endsWith('.iso')) return 'expected a file name template ending in ".iso"';
  try {
    if (!isPlainFileName(renderTemplate(template, SAMPLE_VARS))) return "expected a plain file name template (no '/')";
  } catch (err) {
    if (err instanceof TemplateError) return `expected a valid template: ${err.message}`;
    throw err;
  }
  return undefined;
}

export const OutputSchema = z
  .strictObject({
    name: z
      .string()
      .superRefine((template, ctx) => {
        const problem = outputTemplateProblem(template);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      })
      .default(DEFAULT_OUTPUT_NAME)
      .describe(
        `File name of the built ISO, a template with ${OUTPUT_NAME_VARIABLES.map((v) => `\`{{${v}}}\``).join(', ')}. ` +
          'Must end in `.iso` and render to a plain file name (no `/`).',
      ),
  })
  .describe('What the build produces.');

/** Time limits in seconds; past one, the command's whole process group is killed and the build fails naming it. */
export const TimeoutsSchema = z
  .strictObject({
    hook: z
      .number()
      .int()
      .min(1)
      .default(1800)
      .describe('Seconds one hook script may run (any hook point) before it is killed and the build fails.'),
    chrootCommand: z
      .number()
      .int()
      .min(1)
      .default(3600)
      .describe('Seconds one `chroot.commands` entry may run before it is killed and the build fails.'),
  })
  .describe('Time limits for the profile\'s own code (hooks, chroot commands), so a hung script cannot stall a build forever.');
export type Timeouts = z.output<typeof TimeoutsSchema>;

/** The profile as written in YAML, before the defaults that depend on other fields. */
export const ProfileDocumentSchema = z
  .strictObject({
    name: z
      .string()
      .regex(NAME_PATTERN, 'expected lower-case letters, digits and "-", starting with a letter or digit')
      .describe('Short machine name, used in file names: lower-case letters, digits and `-`.')
      .meta({ stageCache: true }), // ISO_BUILD_PROFILE of chroot commands and hooks
    product: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'Human product name, written to `.disk/info`.', defaultText: 'same as `name`', stageCache: true }), // the payload's repository
    volumeLabel: z
      .string()
      .regex(VOLUME_LABEL_PATTERN, 'expected at most 32 characters from A-Z a-z 0-9 space _ . -')
      .optional()
      .meta({
        description: 'ISO volume id: at most 32 characters from `A-Z a-z 0-9 _ . -` and space.',
        defaultText: '`name` upper-cased, cut to 32',
      }),
    base: BaseSchema,
    rootfs: RootfsSchema.prefault({}),
    overlay: z
      .array(OverlayMappingSchema)
      .default(() => [])
      .describe('Directory trees copied into the rootfs or the ISO, in order (later entries win).'),
    chroot: ChrootSchema.prefault({}).meta({ stageCache: true }),
    packages: PackagesSchema.optional().meta({ stageCache: true }),
    bringup: BringupSchema.optional(),
    output: OutputSchema.prefault({}),
    sourceDateEpoch: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('Fixed build time (seconds since the epoch) for reproducible builds, used when `SOURCE_DATE_EPOCH` is not set.'),
    release: z
      .strictObject({
        gpgKey: z
          .string()
          .min(1)
          .optional()
          .describe('gpg key (fingerprint, key id or user id) that signs SHA256SUMS; `ISO_BUILD_GPG_KEY` overrides it.'),
      })
      .optional()
      .describe('Release artifacts: how SHA256SUMS is signed (unsigned, with a warning, when no key is named).'),
    autoinstall: AutoinstallSchema.optional(),
    bootMenu: z.union([z.literal(false), BootMenuSchema]).optional(),
    hooks: HooksSchema.prefault({}),
    timeouts: TimeoutsSchema.prefault({}),
    vars: VarsSchema,
    extends: ExtendsSchema,
  })
  .describe('An iso-build profile.');

function checkOutputFileName(doc: z.output<typeof ProfileDocumentSchema>, ctx: z.RefinementCtx): void {
  const vars = { name: doc.name, product: doc.product ?? doc.name, version: SAMPLE_VARS.version };
  let rendered: string;
  try {
    rendered = renderTemplate(doc.output.name, vars);
  } catch (err) {
    // zod still runs this refinement after output.name's own check failed; that issue is reported already.
    if (err instanceof TemplateError) return;
    throw err;
  }
  if (!isPlainFileName(rendered)) {
    ctx.addIssue({
      code: 'custom',
      path: ['output', 'name'],
      message: `expected a template that renders to a plain file name, but it renders to "${rendered}"`,
    });
  }
}

/**
 * With bringup.k3s each chart of the payload becomes the HelmChart manifest NAME.yaml in kube-system (helm-controller
 * installs one release per HelmChart object): two charts of one name would overwrite each other. The per-chart settings
 * must name charts the payload ships.
 */
function checkBringupCharts(doc: z.output<typeof ProfileDocumentSchema>, ctx: z.RefinementCtx): void {
  if (!doc.bringup?.k3s || !doc.packages) return; // without a payload the bring-up is skipped (stages/skips.ts)
  const charts = doc.packages.charts;
  const seen = new Set<string>();
  charts.forEach((c, i) => {
    if (seen.has(c.name)) {
      ctx.addIssue({ code: 'custom', path: ['packages', 'charts', i, 'name'], message: 'expected each chart name once with bringup.k3s (each chart is deployed as the HelmChart of its name)' });
    }
    seen.add(c.name);
  });
  const named = new Set<string>();
  doc.bringup.charts.forEach((c, i) => {
    if (!seen.has(c.name)) {
      ctx.addIssue({ code: 'custom', path: ['bringup', 'charts', i, 'name'], message: 'expected the name of a chart in packages.charts' });
    } else if (named.has(c.name)) {
      ctx.addIssue({ code: 'custom', path: ['bringup', 'charts', i, 'name'], message: "expected each chart's settings once" });
    }
    named.add(c.name);
  });
}

function withDerivedDefaults({ name, product, volumeLabel, ...rest }: z.output<typeof ProfileDocumentSchema>) {
  return { name, product: product ?? name, volumeLabel: volumeLabel ?? name.toUpperCase().slice(0, 32), ...rest };
}

/** Parses the YAML data of a profile; paths are still as written (see load.ts). */
export const ProfileSchema = ProfileDocumentSchema.superRefine(checkOutputFileName).superRefine(checkBringupCharts).transform(withDerivedDefaults);

/** A loaded profile: paths are absolute, base.sha256 is set (see load.ts). */
export interface Profile extends z.output<typeof ProfileSchema> {
  /** Absolute path of the profile file. */
  file: string;
  /** Its directory; relative paths in the profile are resolved against it. */
  dir: string;
}
