/**
 * Profile sections for unattended installs and build customization: `autoinstall` (cloud-init templates and
 * their variables), `bootMenu` (the GRUB / isolinux entry that starts it), `hooks` (scripts at named points of
 * the build), `vars` and `extends` (composable profiles, resolved by src/profile/compose.ts before validation).
 * Part of the profile schema (src/profile/schema.ts): same rules, every field described.
 */
import * as z from 'zod';
import { ENV_NAME_PATTERN } from './checks.js';
import { profilePath } from './schema-marks.js';
import { TemplateError, renderTemplate } from './template.js';

export const HOSTNAME_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
export const USERNAME_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;
export const RELEASE_PATTERN = /^\d{2}\.\d{2}$/;

export const AutoinstallSchema = z
  .strictObject({
    userData: profilePath().describe(
      'Handlebars template (strict: unknown variables are errors; no HTML escaping) of the cloud-init `user-data`, ' +
        'relative to the profile file\'s directory. Its variables are the fields of this section plus `name`, ' +
        '`product`, `version` and `vars`; helper `{{json x}}` writes a quoted YAML scalar. The rendered file must have ' +
        '`autoinstall:` that subiquity\'s own `autoinstall-schema.json` for `release` accepts (vendored in ' +
        '`schemas/subiquity/`); an unknown top-level key is a warning, as subiquity (autoinstall version 1) ignores it.',
    ),
    metaData: profilePath()
      .optional()
      .meta({
        description: 'Handlebars template of the cloud-init `meta-data` (same variables), relative to the profile file\'s directory.',
        defaultText: '`instance-id: <name>-<version>`',
      }),
    release: z
      .string()
      .regex(RELEASE_PATTERN, 'expected an Ubuntu release such as "22.04"')
      .default('22.04')
      .describe('Ubuntu release of the base ISO (quote it: `"24.04"`): picks the subiquity schema user-data is checked against (24.04 from 24.04 on, else 22.04). From 24.04 on the rendered user-data is also written to `/autoinstall.yaml`.'),
    hostname: z
      .string()
      .regex(HOSTNAME_PATTERN, 'expected a host name: letters, digits and "-", at most 63 characters')
      .optional()
      .meta({ description: 'Host name of the installed system.', defaultText: '`name`' }),
    username: z
      .string()
      .regex(USERNAME_PATTERN, 'expected a user name: lower-case letters, digits, "_" and "-"')
      .default('admin')
      .describe('The admin user created by the installer.'),
    realname: z.string().optional().describe('Full name of the admin user.'),
    passwordHash: z
      .string()
      .regex(/^\$[0-9a-z]+\$\S+$/, 'expected a crypt(3) hash such as "$6$salt$..." (mkpasswd -m sha-512)')
      .optional()
      .describe('crypt(3) hash of the admin password (`mkpasswd -m sha-512`); use `${VAR}` to keep it out of the profile.'),
    sshKeys: z.array(z.string().min(1)).default(() => []).describe('SSH public keys authorized for the admin user.'),
    locale: z.string().min(1).default('en_US.UTF-8').describe('Locale of the installed system.'),
    keyboard: z
      .strictObject({
        layout: z.string().min(1).default('us').describe('Keyboard layout (XKB), e.g. `us`, `de`.'),
        variant: z.string().default('').describe('Keyboard variant (XKB), empty for the default.'),
      })
      .prefault({})
      .describe('Keyboard of the installed system.'),
    timezone: z.string().min(1).default('Etc/UTC').describe('Time zone of the installed system, e.g. `Europe/Berlin`.'),
    storage: z.enum(['lvm', 'direct', 'zfs']).default('lvm').describe('Storage layout subiquity applies to the largest disk: `lvm`, `direct` or `zfs`.'),
    packages: z.array(z.string().min(1)).default(() => []).describe('Extra packages the installer adds (from the ISO\'s own package pool: no network at install time).'),
    lateCommands: z
      .array(z.string().min(1))
      .default(() => [])
      .describe('Commands run at the end of the install (`late-commands`); the installed system is mounted at `/target`.'),
  })
  .describe('Unattended install: cloud-init templates rendered and validated at build time and written to `/nocloud/` on the ISO.');

const kernelArg = z.string().min(1).refine((a) => !/\s|^---$/.test(a), 'expected one kernel argument without spaces (not "---")');

export const BootMenuSchema = z
  .strictObject({
    title: z
      .string()
      .min(1)
      .refine((t) => !/["\n]/.test(t), 'expected a title without double quotes or newlines')
      .superRefine((t, ctx) => {
        try {
          renderTemplate(t, { name: 'name', product: 'product', version: '1.0' });
        } catch (err) {
          if (!(err instanceof TemplateError)) throw err;
          ctx.addIssue({ code: 'custom', message: `expected a valid template: ${err.message}` });
        }
      })
      .default('Install {{product}} (automatic)')
      .describe('Title of the autoinstall entry, a template with `{{name}}`, `{{product}}`, `{{version}}`.'),
    timeout: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: 'Seconds the menu waits before booting the default entry.', defaultText: "the base ISO's" }),
    default: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({
        description: 'Index (from 0) of the entry booted after the timeout; with `autoinstall` the new entry is 0.',
        defaultText: '0 (the autoinstall entry)',
      }),
    kernelArgs: z
      .array(kernelArg)
      .default(() => [])
      .describe('Kernel arguments added to every boot entry, before `---` (e.g. `console=ttyS0,115200`).'),
    installedKernelArgs: z
      .array(kernelArg)
      .default(() => [])
      .describe('Kernel arguments added to every boot entry after `---`: the Ubuntu installer copies them to the installed system\'s boot loader.'),
  })
  .describe(
    'Boot menu of the ISO (GRUB, isolinux/syslinux, the GRUB config in an EFI image file): with `autoinstall`, a new first entry boots the installer with `autoinstall ds=nocloud;s=/cdrom/nocloud/`. ' +
      '`bootMenu: false` leaves every menu as it is.',
  );

export const HOOK_POINTS = ['pre-customize', 'post-customize', 'pre-repack', 'post-build'] as const;
export type HookPoint = (typeof HOOK_POINTS)[number];

function hookList(description: string) {
  return z.array(profilePath()).default(() => []).describe(description);
}

export const HooksSchema = z
  .strictObject({
    'pre-customize': hookList('Scripts run inside the chroot before the chroot commands (their result is kept in the stage cache).').meta({ stageCache: true }),
    'post-customize': hookList('Scripts run inside the chroot after the chroot commands, the package payload and the overlay files.'),
    'pre-repack': hookList('Scripts run on the build host before the rootfs is packed (ISO tree and rootfs still editable).'),
    'post-build': hookList('Scripts run on the build host after the ISO is published (a failure fails the build; the published files stay).'),
  })
  .describe(
    'Scripts (relative to the profile file\'s directory) run at named points of the build, in order; their output goes to the build log ' +
      'and a non-zero exit fails the build. Environment: `ISO_BUILD_HOOK`, `ISO_BUILD_VERSION`, `ISO_BUILD_PROFILE`, ' +
      '`ISO_BUILD_ROOTFS` (`/` inside the chroot), `ISO_BUILD_ISO_TREE`, `ISO_BUILD_OUTPUT_ISO` (the latter two host paths).',
  );

export const VarsSchema = z
  .record(z.string().regex(ENV_NAME_PATTERN, 'expected a variable name ([A-Za-z_][A-Za-z0-9_]*)'), z.string())
  .optional()
  .meta({
    description:
      'Variables for `${NAME}` in any string of the profile (the environment overrides them; `$${` is a literal `${`). ' +
        'A value may use other variables; a cycle among them, or an unknown name, is an error.',
    defaultText: '`{}`',
  });

export const ExtendsSchema = z
  .string()
  .min(1)
  .optional()
  .describe(
    'A base profile (relative to this file) this one is merged onto: mappings are merged, scalars replaced, lists appended ' +
      '(tag a list `!replace` to replace it instead). Paths in the base stay relative to the base.',
  );
