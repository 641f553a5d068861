/**
 * Command-line verbs: commander built from the table in src/cli-options.ts, each verb a few lines that call into
 * src/commands/. A first word that is no verb is a version (`iso-build v1.0.0`) only if it looks like one.
 */
import { Command, CommanderError, Option } from 'commander';
// Verbs load their modules only when they run: `inspect` must not pay for the build pipeline's start-up.
import type { buildCommand } from './commands/build.js';
import type { bootCommand } from './commands/boot.js';
import type { packagesFetchCommand, packagesListCommand, packagesLockCommand } from './commands/packages.js';
import type { inspectCommand } from './commands/inspect.js';
import type { reportCommand } from './commands/report.js';
import type { verifyCommand } from './commands/verify.js';
import type { profileValidateCommand } from './commands/profile.js';
import { GLOBAL_OPTIONS, GROUPS, VERBS, defaultText, topLevelVerbs, type OptionSpec, type VerbSpec } from './cli-options.js';
import { ExitCode, isIsoBuildError, signalExitCode, usageError } from './errors.js';
import { packageVersion } from './package-root.js';
import { installSignalHandlers, interruptedBy } from './lifecycle.js';
import { setQuiet } from './output.js';
import { suggest } from './suggest.js';

type Opts = Record<string, unknown>;
type Handler = (args: string[], opts: Opts) => Promise<number>;

/** What each verb of the table runs; the option types are the commands' own (commander fills them from the table). */
const HANDLERS: Record<string, Handler> = {
  build: async ([version], opts) => {
    // The payload stage reads it from the environment: the lock is an input of that stage alone.
    if (opts.updateLock === true) process.env.ISO_BUILD_UPDATE_LOCK = '1';
    return (await import('./commands/build.js')).buildCommand(version!, opts as Parameters<typeof buildCommand>[1]);
  },
  boot: async ([iso], opts) => (await import('./commands/boot.js')).bootCommand(iso!, opts as Parameters<typeof bootCommand>[1]),
  report: async ([dir], opts) => (await import('./commands/report.js')).reportCommand(dir!, opts as Parameters<typeof reportCommand>[1]),
  inspect: async ([image], opts) => (await import('./commands/inspect.js')).inspectCommand(image!, opts as Parameters<typeof inspectCommand>[1]),
  verify: async ([iso], opts) => (await import('./commands/verify.js')).verifyCommand(iso!, opts as Parameters<typeof verifyCommand>[1]),
  'profile show': async ([file]) => (await import('./commands/profile.js')).profileShowCommand(file!),
  'profile validate': async ([file], opts) =>
    (await import('./commands/profile.js')).profileValidateCommand(file!, { version: opts.buildVersion as string, json: opts.json === true } satisfies Parameters<typeof profileValidateCommand>[1]),
  init: async ([dir]) => (await import('./commands/init.js')).initCommand(dir!),
  'packages lock': async (_, opts) => (await import('./commands/packages.js')).packagesLockCommand(opts as Parameters<typeof packagesLockCommand>[0]),
  'packages fetch': async (_, opts) => (await import('./commands/packages.js')).packagesFetchCommand(opts as Parameters<typeof packagesFetchCommand>[0]),
  'packages verify': async ([dir]) => (await import('./commands/packages.js')).packagesVerifyCommand(dir!),
  'packages list': async ([dir], opts) => (await import('./commands/packages.js')).packagesListCommand(dir!, opts as Parameters<typeof packagesListCommand>[1]),
};

function option(spec: OptionSpec): Option {
  const o = new Option(spec.flags, spec.description);
  if (spec.choices) o.choices(spec.choices);
  if (spec.number) o.argParser((v) => Number(v));
  if (spec.repeatable) {
    o.argParser((v: string, previous: string[] | undefined) => [...(previous ?? []), v]);
    o.default([], defaultText(spec));
  }
  if (spec.default !== undefined) o.default(spec.default);
  else if (spec.repeatable) return o;
  else if (spec.defaultText !== undefined) o.description = `${spec.description} (default: ${defaultText(spec)})`;
  return o;
}

function addVerb(parent: Command, spec: VerbSpec, name: string): void {
  const cmd = parent.command(name, { isDefault: spec.name === 'build' }).description(spec.description);
  for (const a of spec.arguments) cmd.argument(a.name, a.description);
  for (const o of spec.options) cmd.addOption(option(o));
  const handler = HANDLERS[spec.name];
  if (!handler) throw new Error(`no handler for the verb "${spec.name}"`);
  cmd.action(async (...params: unknown[]) => {
    // commander passes the arguments, then the options, then the command
    const args = params.slice(0, spec.arguments.length) as string[];
    const opts = params[spec.arguments.length] as Opts;
    process.exitCode = await handler(args, opts);
  });
}

export function program(): Command {
  const cli = new Command('iso-build')
    .description('Remaster an Ubuntu live-server ISO into a bootable, verified offline appliance installer')
    .version(packageVersion())
    .showHelpAfterError('(run iso-build --help for usage)')
    .exitOverride();
  for (const o of GLOBAL_OPTIONS) cli.addOption(option(o));
  cli.hook('preAction', (_, action) => setQuiet(action.optsWithGlobals().quiet === true));
  const groups = new Map<string, Command>();
  for (const spec of VERBS) {
    const [first, second] = spec.name.split(' ') as [string, string | undefined];
    if (second === undefined) {
      addVerb(cli, spec, first);
      continue;
    }
    let group = groups.get(first);
    if (!group) {
      group = cli.command(first).description(GROUPS[first] ?? '');
      groups.set(first, group);
    }
    addVerb(group, spec, second);
  }
  return cli;
}

/** A first word that a version could be meant by: v1, 1.0.0, 20261122 (validated by the build). */
const VERSION_LIKE = /^v?\d/;

/** `iso-build frobnicate` is an unknown verb, not a bad version; `iso-build bild v1.0.0` gets a did-you-mean. */
function checkVerb(argv: readonly string[]): void {
  // Global flags (-q) may stand before the verb: the verb is the first word after them.
  const globalFlags = GLOBAL_OPTIONS.flatMap((o) => o.flags.split(', '));
  const words = argv.slice(2);
  const at = words.findIndex((w) => !globalFlags.includes(w));
  const [first, second] = at < 0 ? [] : words.slice(at, at + 2);
  if (first === undefined || first.startsWith('-') || VERSION_LIKE.test(first)) return;
  const verbs = topLevelVerbs();
  if (verbs.includes(first)) {
    const subs = VERBS.filter((v) => v.name.startsWith(`${first} `)).map((v) => v.name.split(' ')[1]!);
    if (subs.length === 0 || second === undefined || second.startsWith('-') || subs.includes(second) || second === 'help') return;
    throw unknownVerb(`${first} ${second}`, second, subs.map((s) => `${first} ${s}`));
  }
  throw unknownVerb(first, first, verbs);
}

function unknownVerb(what: string, word: string, verbs: string[]): Error {
  const like = suggest(word, verbs.map((v) => v.split(' ').pop()!));
  const group = what.includes(' ') ? what.split(' ')[0]! : undefined;
  return usageError(
    `unknown command "${what}"${like ? `: did you mean ${group ? `${group} ` : ''}${like}?` : ''}`,
    group
      ? `commands: ${verbs.join(', ')} (iso-build ${group} --help)`
      : `commands: ${verbs.join(', ')}; a build is iso-build VERSION (v1.0.0, v1.2.0-rc.1, 20261122); iso-build --help`,
  );
}

/** Runs the CLI; returns the exit code. User errors print a message and a hint, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  // process.js (and execa) is loaded by the verbs that start processes; if none did, there is nothing to kill.
  installSignalHandlers(() => void import('./tools/process.js').then((m) => m.killAllChildren('SIGTERM')));
  try {
    checkVerb(argv);
    await program().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : ExitCode.Usage;
    }
    const signal = interruptedBy();
    if (isIsoBuildError(err)) {
      process.stderr.write(`error: ${err.message}\n`);
      if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
      return signal ? signalExitCode(signal) : err.exitCode;
    }
    if (signal) {
      process.stderr.write(`error: ${signal}: stopped\n`);
      return signalExitCode(signal);
    }
    process.stderr.write(`internal error (a bug in iso-build): ${err instanceof Error ? err.stack : String(err)}\n`);
    return ExitCode.Failed;
  }
}
