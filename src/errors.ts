/**
 * The one error type of iso-build. Every failure a user can act on is an IsoBuildError:
 * the CLI prints `error: <message>` and `hint: <hint>` and exits with `exitCode`, never a stack trace.
 */
export const ExitCode = {
  /** A tool, a chroot command or a build step failed. */
  Failed: 1,
  /** Bad input: arguments, profile, base ISO (hash, format), missing files. */
  Usage: 2,
  /** The built or published artifact did not pass verification. */
  Verification: 3,
  /** SIGINT (128 + 2, the shell's convention for a process killed by a signal). */
  Interrupted: 130,
  /** SIGTERM (128 + 15). */
  Terminated: 143,
  /** SIGHUP (128 + 1). */
  HangUp: 129,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code for a run stopped by `signal`: 128 + its number, as a shell reports a process the signal killed. */
export function signalExitCode(signal: NodeJS.Signals): ExitCode {
  return signal === 'SIGTERM' ? ExitCode.Terminated : signal === 'SIGHUP' ? ExitCode.HangUp : ExitCode.Interrupted;
}

export class IsoBuildError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;

  constructor(message: string, opts: { hint?: string; exitCode?: ExitCode; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'IsoBuildError';
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? ExitCode.Failed;
  }
}

/** Input the user has to fix (exit code 2). */
export function usageError(message: string, hint?: string): IsoBuildError {
  return new IsoBuildError(message, { hint, exitCode: ExitCode.Usage });
}

export function isIsoBuildError(err: unknown): err is IsoBuildError {
  return err instanceof IsoBuildError;
}
