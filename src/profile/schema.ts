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
  .enum(['xz', 'zstd', 'gzip'])
  .describe('Compressor for the rebuilt root filesystem squashfs.');
export type Compression = z.infer<typeof CompressionSchema>;

export const BaseLayoutSchema = z
  .enum(['auto', 'casper', 'casper-layered', 'debian-live'])
  .describe('Layout of the base ISO.');
export type BaseLayout = z.infer<typeof BaseLayoutSchema>;

/** Valid `compressionLevel` per compressor; undefined = the compressor takes no level here. */
export const COMPRESSION_LEVELS: Record<Compression, { min: number; max: number } | undefined> = {
  // mksquashfs' xz has no level option (only dictionary size / BCJ filters).
  xz: undefined,
  zstd: { min: 1, max: 22 },
  gzip: { min: 1, max: 9 },
};


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
    url: z
      .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
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
      ? `expected no compressionLevel with compression "${rootfs.compression}" (only zstd and gzip take a level)`
      : rootfs.compressionLevel < range.min || rootfs.compressionLevel > range.max
        ? `expected an integer from ${range.min} to ${range.max} for ${rootfs.compression}`
        : undefined;
  if (message !== undefined) ctx.addIssue({ code: 'custom', path: ['compressionLevel'], message });
}

export const RootfsSchema = z
  .strictObject({
    compression: CompressionSchema.default('xz').describe('Compressor for the rebuilt root filesystem squashfs: `xz`, `zstd` or `gzip`.'),
    compressionLevel: z
      .number()
      .int()
      .optional()
      .meta({ description: 'Compression level: zstd 1-22, gzip 1-9; not allowed with xz.', defaultText: "the compressor's own default" }),
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
export type RootfsOptions = z.output<typeof RootfsSchema>;

export const OverlayMappingSchema = z
  .strictObject({
    source: profilePath().describe('Directory whose contents are copied, relative to the profile file\'s directory.'),
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
export type ChrootOptions = z.output<typeof ChrootSchema>;

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

export const PackageImageSchema = z
  .strictObject({
    archive: profilePath().describe('Image archive (docker-archive or OCI layout tarball, optionally gzip-compressed), relative to the profile.'),
    reference: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._\/:@-]*$/, 'expected an image reference such as "docker.io/rancher/mirrored-pause:3.6"')
      .describe('The image reference the archive provides (checked against the archive\'s own tags).'),
  })
  .describe('One container image archive.');
export type PackageImage = z.output<typeof PackageImageSchema>;

export const PackageChartSchema = z
  .strictObject({
    name: z.string().min(1).describe('Chart name, checked against its Chart.yaml.'),
    version: z.string().min(1).describe('Chart version, checked against its Chart.yaml.'),
    path: profilePath().optional().describe('Chart .tgz, relative to the profile. Exactly one of `path` / `repo`.'),
    repo: profilePath().optional().describe('Local chart directory holding `NAME-VERSION.tgz`, relative to the profile. Exactly one of `path` / `repo`.'),
  })
  .refine((c) => (c.path === undefined) !== (c.repo === undefined), { message: 'expected exactly one of path / repo', params: OMIT_VALUE })
  .describe('One Helm chart.');
export type PackageChart = z.output<typeof PackageChartSchema>;

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
    images: z.array(PackageImageSchema).default(() => []).describe('Container image archives, checked and copied to `images/`.'),
    charts: z.array(PackageChartSchema).default(() => []).describe('Helm charts, checked and copied to `charts/` with an `index.yaml`.'),
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
export type OutputOptions = z.output<typeof OutputSchema>;

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

function withDerivedDefaults({ name, product, volumeLabel, ...rest }: z.output<typeof ProfileDocumentSchema>) {
  return { name, product: product ?? name, volumeLabel: volumeLabel ?? name.toUpperCase().slice(0, 32), ...rest };
}

/** Parses the YAML data of a profile; paths are still as written (see load.ts). */
export const ProfileSchema = ProfileDocumentSchema.superRefine(checkOutputFileName).transform(withDerivedDefaults);

/** A loaded profile: paths are absolute, base.sha256 is set (see load.ts). */
export interface Profile extends z.output<typeof ProfileSchema> {
  /** Absolute path of the profile file. */
  file: string;
  /** Its directory; relative paths in the profile are resolved against it. */
  dir: string;
}
