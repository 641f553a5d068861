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
  /** SIGINT / SIGTERM. */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

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
