/** Command-line verbs. Each is a few lines that call into src/commands/. */
import { Command, CommanderError, Option } from 'commander';
// Verbs load their modules only when they run: `inspect` must not pay for the build pipeline's start-up.
import type { buildCommand } from './commands/build.js';
import type { bootCommand } from './commands/boot.js';
import type { packagesFetchCommand } from './commands/packages.js';
import type { inspectCommand } from './commands/inspect.js';
import type { verifyCommand } from './commands/verify.js';
import { ExitCode, isIsoBuildError } from './errors.js';
import { packageVersion } from './package-root.js';
import { installSignalHandlers } from './lifecycle.js';


function program(): Command {
  const cli = new Command('iso-build')
    .description('Remaster an Ubuntu live-server ISO into a bootable, verified offline appliance installer')
    .version(packageVersion())
    .showHelpAfterError('(run iso-build --help for usage)')
    .exitOverride();

  cli
    .command('build', { isDefault: true })
    .description('build release/<version>/ from a profile (also: iso-build <version>)')
    .argument('<version>', 'release version: v1.0.0, v1.2.0-rc.1 or a date such as 20261122')
    .option('-p, --profile <file>', 'profile to build', 'profiles/novasphere.yaml')
    .option('--base <iso>', "use this local base ISO instead of the profile's")
    .option('--base-sha256 <hex>', 'expected sha256 of --base')
    .option('-o, --output <dir>', 'release directory (default: release/<version>)')
    .option('-w, --work <dir>', 'scratch directory (default: .iso-build/work/<name>-<version>)')
    .option('--cache <dir>', 'download cache (default: $ISO_BUILD_CACHE or ~/.cache/iso-build)')
    .option('--keep-work', 'keep the ISO tree (copied out of its overlay), the rootfs changes and other scratch files after a successful build')
    .option('--force', 'replace an existing ISO at the output path')
    .option('--check-reproducible', 'build twice in separate work directories and fail unless the ISOs are identical')
    .option('--update-lock', "resolve the payload's registry/chart/URL sources again and rewrite <profile>.lock.yaml (same as ISO_BUILD_UPDATE_LOCK=1)")
    .action(async (version: string, opts: Parameters<typeof buildCommand>[1] & { updateLock?: boolean }) => {
      // The payload stage reads it from the environment: the lock is an input of that stage alone.
      if (opts.updateLock) process.env.ISO_BUILD_UPDATE_LOCK = '1';
      process.exitCode = await (await import('./commands/build.js')).buildCommand(version, opts);
    });

  cli
    .command('boot')
    .description('boot an ISO headless in qemu and wait for a line on its serial console')
    .argument('<iso>', 'ISO image to boot')
    .addOption(new Option('--firmware <fw>', 'bios, uefi or both').choices(['bios', 'uefi', 'both']).default('both'))
    .option('--expect <regex>', 'serial console pattern that means success (default NOVASPHERE-VERSION: ; with --install: optional)')
    .option('--timeout <seconds>', 'give up after this many seconds per boot', (v) => Number(v), 300)
    .option('--log <path>', 'serial log file or directory')
    .addOption(new Option('--accel <accel>', 'qemu accelerator').choices(['auto', 'kvm', 'tcg']).default('auto'))
    .option('--wait-poweroff', 'after the match, wait for the guest to power off (default: return at once)')
    .option('--json', 'print the result as one JSON document')
    .option('--install', 'install QA: boot with a blank disk, wait for the installer to power off, check the installed disk')
    .option('--expect-file <path[=content]>', 'with --install: a file the installed disk must have (repeatable)', collect, [])
    .option('--expect-absent <path>', 'with --install: a path the installed disk must not have (repeatable)', collect, [])
    .option('--disk-size <size>', 'with --install: size of the blank (sparse) disk', '8G')
    .option('--keep-disk', 'with --install: keep the installed disk image beside the serial log')
    .option('--installed-expect <regex>', 'with --install: boot the installed system (its /boot kernel) and wait for this pattern')
    .action(async (iso: string, opts: Parameters<typeof bootCommand>[1]) => {
      process.exitCode = await (await import('./commands/boot.js')).bootCommand(iso, opts);
    });

  cli
    .command('report')
    .description('write DIR/report.html again: stage timeline, ISO size breakdown, payload, package changes')
    .argument('<dir>', 'release directory (release/<version>)')
    .option('--log <file>', "build log to take the stage timeline from (default: the existing report's)")
    .action(async (dir: string, opts: { log?: string }) => {
      process.exitCode = await (await import('./commands/report.js')).reportCommand(dir, opts);
    });

  cli
    .command('inspect')
    .description('show what an ISO (or squashfs) holds, read in-process: layout, boot setup, layers, VERSION, md5sum.txt')
    .argument('<image>', 'installer ISO or squashfs image')
    .option('--json', 'machine-readable output')
    .option('--cat <path>', 'print a file of the rootfs (the merged layers the installer copies)')
    .option('--ls [path]', 'list the rootfs recursively from path (default /), like unsquashfs -lln')
    .option('--layer <path>', 'read this squashfs of the ISO (e.g. casper/filesystem.squashfs) instead of the merged rootfs')
    .option('--no-md5', 'do not check md5sum.txt (it reads every listed file)')
    .action(async (image: string, opts: Parameters<typeof inspectCommand>[1]) => {
      process.exitCode = await (await import('./commands/inspect.js')).inspectCommand(image, opts);
    });

  cli
    .command('verify')
    .description('check a published ISO like a user would: signature, sha256, md5sum.txt, boot records, VERSION')
    .argument('<iso>', 'the downloaded ISO')
    .option('--sums <file>', 'SHA256SUMS listing the ISO (default: SHA256SUMS next to it)')
    .option('--key <key>', 'public key file (or fingerprint in your keyring) that must have signed SHA256SUMS (SHA256SUMS.asc)')
    .option('--expect-version <version>', 'expected VERSION (default: from build-manifest.json next to the ISO, else the file name)')
    .action(async (iso: string, opts: Parameters<typeof verifyCommand>[1]) => {
      process.exitCode = await (await import('./commands/verify.js')).verifyCommand(iso, opts);
    });

  const profile = cli.command('profile').description('inspect a profile without building');
  profile
    .command('show')
    .description('print the fully resolved profile (extends merged, ${VAR}s replaced, defaults filled, paths absolute)')
    .argument('<file>', 'profile YAML')
    .action(async (file: string) => {
      process.exitCode = await (await import('./commands/profile.js')).profileShowCommand(file);
    });
  profile
    .command('validate')
    .description('check a profile, rendering and validating its autoinstall templates, without building')
    .argument('<file>', 'profile YAML')
    .option('--build-version <version>', 'release version the templates are rendered with', 'v0.0.0')
    .action(async (file: string, opts: { buildVersion: string }) => {
      process.exitCode = await (await import('./commands/profile.js')).profileValidateCommand(file, { version: opts.buildVersion });
    });

  cli
    .command('init')
    .description('scaffold a new profile directory (profile, autoinstall templates, overlay, hook) that builds on the fixture')
    .argument('<dir>', 'new or empty directory')
    .action(async (dir: string) => {
      process.exitCode = await (await import('./commands/init.js')).initCommand(dir);
    });

  const packages = cli.command('packages').description('the offline package payload: lock, fetch, verify, list');
  packages
    .command('lock')
    .description("resolve the profile's registry images, repository charts and URL files to digests and write <profile>.lock.yaml")
    .option('-p, --profile <file>', 'profile', 'profiles/novasphere.yaml')
    .option('--arch <debian-arch>', 'target architecture for images without a platform (default: packages.architecture, else the local base ISO\'s)')
    .option('--cache <dir>', 'download cache (default: $ISO_BUILD_CACHE or ~/.cache/iso-build)')
    .option('--if-missing', 'keep an existing lock that matches the profile')
    .action(async (opts: { profile: string; arch?: string; cache?: string; ifMissing?: boolean }) => {
      process.exitCode = await (await import('./commands/packages.js')).packagesLockCommand(opts);
    });
  packages
    .command('fetch')
    .description("fetch what <profile>.lock.yaml pins and resolve packages.system for the target into the cache (with --output: write the whole payload)")
    .option('-p, --profile <file>', 'profile', 'profiles/novasphere.yaml')
    .option('--rootfs <dir>', "unpacked target root filesystem to resolve against (default: read from the base ISO)")
    .option('--base <iso>', "read the target from this local base ISO instead of the profile's")
    .option('--base-sha256 <hex>', 'expected sha256 of --base')
    .option('--cache <dir>', 'download cache (default: $ISO_BUILD_CACHE or ~/.cache/iso-build)')
    .option('-o, --output <dir>', 'also write the payload as <dir>/opt/novasphere/packages')
    .option('--update-lock', 'resolve the remote sources again and rewrite the lock file first')
    .action(async (opts: Parameters<typeof packagesFetchCommand>[0]) => {
      process.exitCode = await (await import('./commands/packages.js')).packagesFetchCommand(opts);
    });
  packages
    .command('verify')
    .description('check a payload directory: manifest.json, .debs, image layers, charts; names every bad file')
    .argument('<dir>', 'payload directory, e.g. <rootfs>/opt/novasphere/packages')
    .action(async (dir: string) => {
      process.exitCode = await (await import('./commands/packages.js')).packagesVerifyCommand(dir);
    });
  packages
    .command('list')
    .description('list the .debs, images and charts of a payload directory')
    .argument('<dir>', 'payload directory')
    .action(async (dir: string) => {
      process.exitCode = (await import('./commands/packages.js')).packagesListCommand(dir);
    });

  return cli;
}

/** Runs the CLI; returns the exit code. User errors print a message and a hint, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  // process.js (and execa) is loaded by the verbs that start processes; if none did, there is nothing to kill.
  installSignalHandlers(() => void import('./tools/process.js').then((m) => m.killAllChildren('SIGTERM')));
  try {
    await program().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : ExitCode.Usage;
    }
    if (isIsoBuildError(err)) {
      process.stderr.write(`error: ${err.message}\n`);
      if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
      return err.exitCode;
    }
    process.stderr.write(`internal error (a bug in iso-build): ${err instanceof Error ? err.stack : String(err)}\n`);
    return ExitCode.Failed;
  }
}

/** Repeatable options: each occurrence appended. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
