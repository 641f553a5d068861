/**
 * Every verb, argument, option and environment variable of the CLI, once. src/cli.ts builds commander from it and the
 * README's tables are generated from it (scripts/gen-readme-tables.ts; test/unit/cli-options.test.ts keeps them in step).
 */

export interface OptionSpec {
  /** commander's flags: `-p, --profile <file>`, `--keep-work`, `--ls [path]`, `--no-md5`. */
  readonly flags: string;
  readonly description: string;
  readonly default?: string | number;
  /** How a computed default reads in the README (markdown: `release/<version>`) and --help (without the backticks). */
  readonly defaultText?: string;
  readonly choices?: readonly string[];
  /** The value is a number (commander parses it). */
  readonly number?: boolean;
  /** The option may be given more than once; its value is the list of all (default: empty). */
  readonly repeatable?: boolean;
}

export interface ArgumentSpec {
  readonly name: string;
  readonly description: string;
}

export interface VerbSpec {
  /** `build`, or `profile validate` for a verb under a group. */
  readonly name: string;
  /** How it is called, for the README (`iso-build verify ISO`). */
  readonly usage: string;
  readonly description: string;
  readonly arguments: readonly ArgumentSpec[];
  readonly options: readonly OptionSpec[];
}

export interface EnvSpec {
  readonly name: string;
  readonly meaning: string;
  /** `set` by the user for iso-build; `hook` when iso-build sets it for hooks and chroot commands. */
  readonly kind: 'set' | 'hook';
}

const CACHE_OPTION: OptionSpec = {
  flags: '--cache <dir>',
  description: 'download cache: base ISOs and packages, by sha256',
  defaultText: '`$ISO_BUILD_CACHE` or `~/.cache/iso-build`',
};
const PROFILE_OPTION: OptionSpec = { flags: '-p, --profile <file>', description: 'the profile', default: 'profiles/novasphere.yaml' };
const BASE_OPTIONS: readonly OptionSpec[] = [
  { flags: '--base <iso>', description: "use this local base ISO instead of the profile's", defaultText: 'from the profile' },
  { flags: '--base-sha256 <hex>', description: 'expected sha256 of --base', defaultText: 'from the profile' },
];
const JSON_OPTION = (what: string): OptionSpec => ({ flags: '--json', description: `print ${what} as JSON on stdout (docs/cli-json.md)` });

/** Options every verb takes (they may stand before or after the verb). */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { flags: '-q, --quiet', description: 'no progress on stderr, only the result and warnings' },
];

/** Groups of verbs (`iso-build profile validate`): name and what `iso-build GROUP --help` says. */
export const GROUPS: Readonly<Record<string, string>> = {
  profile: 'inspect a profile without building',
  packages: 'the offline package payload: lock, fetch, verify, list',
};

export const VERBS: readonly VerbSpec[] = [
  {
    name: 'build',
    usage: 'iso-build VERSION / iso-build build VERSION',
    description: 'build release/<version>/ from a profile (also: iso-build <version>)',
    arguments: [{ name: '<version>', description: 'release version: v1.0.0, v1.2.0-rc.1 or a date such as 20261122' }],
    options: [
      { ...PROFILE_OPTION, description: 'the profile to build' },
      ...BASE_OPTIONS,
      { flags: '-o, --output <dir>', description: 'release directory', defaultText: '`release/<version>`' },
      {
        flags: '-w, --work <dir>',
        description: "scratch directory (extracted tree, rootfs, stage cache): new, empty or made by iso-build (it clears only its own), held locked; its build.log has every command and its output",
        defaultText: '`.iso-build/work/<name>-<version>`',
      },
      CACHE_OPTION,
      { flags: '--keep-work', description: 'keep the ISO tree (copied out of its overlay), the rootfs changes and other scratch files after a successful build' },
      { flags: '--force', description: 'replace an existing release at the output path (never done silently; the old one stays until the new one is verified)' },
      { flags: '--check-reproducible', description: 'build twice in separate work directories and fail, naming the first differing file, unless the ISOs are identical' },
      { flags: '--update-lock', description: "resolve the payload's registry/chart/URL sources again and rewrite <profile>.lock.yaml (same as ISO_BUILD_UPDATE_LOCK=1)" },
      JSON_OPTION('the result (paths, sha256, stage timings, warnings)'),
    ],
  },
  {
    name: 'boot',
    usage: 'iso-build boot ISO',
    description: 'boot an ISO headless in qemu and wait for a line on its serial console',
    arguments: [{ name: '<iso>', description: 'ISO image to boot' }],
    options: [
      { flags: '--firmware <fw>', description: 'bios, uefi or both (one after the other)', choices: ['bios', 'uefi', 'both'], default: 'both' },
      { flags: '--expect <regex>', description: 'serial console pattern that means success', defaultText: '`NOVASPHERE-VERSION: ` (with --install: none)' },
      { flags: '--timeout <seconds>', description: 'give up after this many seconds per boot', number: true, default: 300 },
      { flags: '--log <path>', description: 'serial log file or directory', defaultText: 'next to the ISO' },
      { flags: '--accel <accel>', description: 'qemu accelerator (auto: TCG unless ISO_BUILD_KVM=1)', choices: ['auto', 'kvm', 'tcg'], default: 'auto' },
      { flags: '--wait-poweroff', description: 'after the match, wait for the guest to power off (default: return at once)' },
      JSON_OPTION('the result (each boot, each install check)'),
      { flags: '--install', description: 'install QA: boot with a blank disk, wait for the installer to power off, check the installed disk' },
      { flags: '--expect-file <path[=content]>', description: 'with --install: a file the installed disk must have', repeatable: true, defaultText: '/opt/novasphere/VERSION and build-info.json' },
      { flags: '--expect-absent <path>', description: 'with --install: a path the installed disk must not have', repeatable: true, defaultText: 'none' },
      { flags: '--disk-size <size>', description: 'with --install: size of the blank (sparse) disk', default: '8G' },
      { flags: '--keep-disk', description: 'with --install: keep the installed disk image beside the serial log' },
      { flags: '--installed-expect <regex>', description: 'with --install: boot the installed system (its /boot kernel, no network) and wait for this pattern', defaultText: 'none' },
    ],
  },
  {
    name: 'report',
    usage: 'iso-build report DIR',
    description: 'write DIR/report.html again: stage timeline, ISO size breakdown, payload, package changes',
    arguments: [{ name: '<dir>', description: 'release directory (release/<version>)' }],
    options: [{ flags: '--log <file>', description: 'build log to take the stage timeline from', defaultText: "the existing report's" }],
  },
  {
    name: 'inspect',
    usage: 'iso-build inspect ISO',
    description: 'show what an ISO (or squashfs) holds, read in-process: layout, boot setup, layers, VERSION, md5sum.txt',
    arguments: [{ name: '<image>', description: 'installer ISO or squashfs image' }],
    options: [
      JSON_OPTION('the report'),
      { flags: '--cat <path>', description: 'print a file of the rootfs (the merged layers the installer copies)' },
      { flags: '--ls [path]', description: 'list the rootfs recursively from path (default /), like unsquashfs -lln' },
      { flags: '--layer <path>', description: 'read this squashfs of the ISO (e.g. casper/filesystem.squashfs) instead of the merged rootfs' },
      { flags: '--no-md5', description: 'do not check md5sum.txt (it reads every listed file)' },
    ],
  },
  {
    name: 'verify',
    usage: 'iso-build verify ISO',
    description: 'check a published ISO like a user would: signature, sha256, md5sum.txt, boot records, VERSION',
    arguments: [{ name: '<iso>', description: 'the downloaded ISO' }],
    options: [
      { flags: '--sums <file>', description: 'SHA256SUMS listing the ISO', defaultText: 'SHA256SUMS next to the ISO' },
      { flags: '--key <key>', description: 'public key file (or fingerprint in your keyring) that must have signed SHA256SUMS (SHA256SUMS.asc)' },
      { flags: '--expect-version <version>', description: 'expected VERSION', defaultText: 'build-manifest.json next to the ISO, else the file name' },
      JSON_OPTION('each check and the verdict'),
    ],
  },
  {
    name: 'profile show',
    usage: 'iso-build profile show FILE',
    description: 'print the fully resolved profile (extends merged, ${VAR}s replaced, defaults filled, paths absolute)',
    arguments: [{ name: '<file>', description: 'profile YAML' }],
    options: [],
  },
  {
    name: 'profile validate',
    usage: 'iso-build profile validate FILE',
    description: 'check a profile, rendering and validating its autoinstall templates, without building',
    arguments: [{ name: '<file>', description: 'profile YAML' }],
    options: [
      { flags: '--build-version <version>', description: 'release version the templates are rendered with', default: 'v0.0.0' },
      JSON_OPTION('what was checked'),
    ],
  },
  {
    name: 'init',
    usage: 'iso-build init DIR',
    description: 'scaffold a new profile directory (profile, autoinstall templates, overlay, hook) that builds on the fixture',
    arguments: [{ name: '<dir>', description: 'new or empty directory' }],
    options: [],
  },
  {
    name: 'packages lock',
    usage: 'iso-build packages lock',
    description: "resolve the profile's registry images, repository charts and URL files to digests and write <profile>.lock.yaml",
    arguments: [],
    options: [
      PROFILE_OPTION,
      { flags: '--arch <debian-arch>', description: 'target architecture for images without a platform', defaultText: "`packages.architecture`, else the local base ISO's" },
      CACHE_OPTION,
      { flags: '--if-missing', description: 'keep an existing lock that matches the profile' },
    ],
  },
  {
    name: 'packages fetch',
    usage: 'iso-build packages fetch',
    description: 'fetch what <profile>.lock.yaml pins and resolve packages.system for the target into the cache (with --output: write the whole payload)',
    arguments: [],
    options: [
      PROFILE_OPTION,
      { flags: '--rootfs <dir>', description: 'unpacked target root filesystem to resolve against', defaultText: 'read from the base ISO' },
      ...BASE_OPTIONS,
      CACHE_OPTION,
      { flags: '-o, --output <dir>', description: 'also write the payload as <dir>/opt/novasphere/packages' },
      { flags: '--update-lock', description: 'resolve the remote sources again and rewrite the lock file first' },
    ],
  },
  {
    name: 'packages verify',
    usage: 'iso-build packages verify DIR',
    description: 'check a payload directory: manifest.json, .debs, image layers, charts; names every bad file',
    arguments: [{ name: '<dir>', description: 'payload directory, e.g. <rootfs>/opt/novasphere/packages' }],
    options: [],
  },
  {
    name: 'packages list',
    usage: 'iso-build packages list DIR',
    description: 'list the .debs, images and charts of a payload directory',
    arguments: [{ name: '<dir>', description: 'payload directory' }],
    options: [JSON_OPTION('the list')],
  },
];

/** Environment variables iso-build reads, and those it sets for hooks. test/unit/cli-options.test.ts checks src/ reads no other ISO_BUILD_*. */
export const ENVIRONMENT: readonly EnvSpec[] = [
  { name: 'ISO_BUILD_CACHE', kind: 'set', meaning: 'download cache (base ISOs, packages, fixture ISOs); `--cache` overrides it. Default `$XDG_CACHE_HOME/iso-build` or `~/.cache/iso-build`' },
  { name: 'ISO_BUILD_GPG_KEY', kind: 'set', meaning: "gpg key (fingerprint, key id or user id) that signs SHA256SUMS; overrides the profile's `release.gpgKey`" },
  { name: 'ISO_BUILD_GPG_PASSPHRASE', kind: 'set', meaning: "passphrase of that key, handed to gpg on stdin (never on its command line); unset: the key must have none or gpg-agent has it" },
  { name: 'ISO_BUILD_MIRROR', kind: 'set', meaning: "Debian/Ubuntu mirror URL for `packages.sources` entries of `host-mirror`; default: the build host's apt configuration" },
  { name: 'ISO_BUILD_APT_LISTS_MAX_AGE', kind: 'set', meaning: 'seconds the cached apt lists of the package resolver stay fresh (default 21600, 6 h)' },
  { name: 'ISO_BUILD_UPDATE_LOCK', kind: 'set', meaning: '`1`: a build resolves the payload\'s remote sources again and rewrites `<profile>.lock.yaml` (`--update-lock`)' },
  { name: 'ISO_BUILD_FETCH_JOBS', kind: 'set', meaning: 'payload downloads (images, charts, files) run side by side (default 4)' },
  { name: 'ISO_BUILD_FETCH_RETRIES', kind: 'set', meaning: 'retries of a payload download after a transient failure (default 3)' },
  { name: 'ISO_BUILD_FETCH_BACKOFF_MS', kind: 'set', meaning: 'first wait before such a retry, in milliseconds, doubled each time (default 1000)' },
  { name: 'ISO_BUILD_KVM', kind: 'set', meaning: '`1`: `boot --accel auto` uses KVM (a usable /dev/kvm alone proves nothing on nested hosts); else TCG' },
  { name: 'ISO_BUILD_ISO_WRITER', kind: 'set', meaning: '`xorriso`: write the ISO with xorriso\'s modify mode even where the in-place writer could (default `auto`: in place, xorriso where the build log says why not)' },
  { name: 'SOURCE_DATE_EPOCH', kind: 'set', meaning: "every timestamp of the release, in seconds; default: the commit time of the version's git tag or HEAD, else the profile's `sourceDateEpoch`" },
  { name: 'NO_COLOR', kind: 'set', meaning: 'when set and not empty: no colors in the progress output' },
  { name: 'LC_ALL / LC_CTYPE / LANG', kind: 'set', meaning: 'the first one set decides the symbols: Unicode (✔) in a UTF-8 locale, ASCII otherwise' },
  { name: 'ISO_BUILD_HOOK', kind: 'hook', meaning: 'the hook point: pre-customize, post-customize, pre-repack, post-build' },
  { name: 'ISO_BUILD_VERSION', kind: 'hook', meaning: 'the release version (also for chroot commands)' },
  { name: 'ISO_BUILD_PROFILE', kind: 'hook', meaning: "the profile's name (also for chroot commands)" },
  { name: 'ISO_BUILD_PROFILE_DIR', kind: 'hook', meaning: "the profile's directory" },
  { name: 'ISO_BUILD_ROOTFS', kind: 'hook', meaning: 'the rootfs: `/` inside the chroot (pre/post-customize), its host path otherwise' },
  { name: 'ISO_BUILD_ISO_TREE', kind: 'hook', meaning: 'host path of the ISO tree being built' },
  { name: 'ISO_BUILD_OUTPUT_ISO', kind: 'hook', meaning: 'host path of the ISO the build writes' },
  { name: 'ISO_BUILD_REAP_TOKEN', kind: 'hook', meaning: 'set by iso-build for every command it runs on the host (host hooks too): should iso-build die, what carries it is killed' },
];

/** The verbs a first word may name: leaf verbs and their groups, plus commander's `help`. */
export function topLevelVerbs(): string[] {
  return [...new Set([...VERBS.map((v) => v.name.split(' ')[0]!), 'help'])];
}

/** The default as --help shows it (plain text). */
export function defaultText(o: OptionSpec): string {
  if (o.defaultText !== undefined) return o.defaultText.replace(/`/g, '');
  return o.default === undefined ? (o.flags.includes('<') ? 'none' : 'off') : String(o.default);
}
