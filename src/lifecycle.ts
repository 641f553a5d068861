/**
 * Process-wide interrupt handling and resource release.
 * SIGINT/SIGTERM abort `interruptSignal()`: running commands are killed (see tools/process.ts), the stage
 * throws, and every `finally` in the pipeline releases what it owns (mounts, temp dirs, partial files).
 */
let controller = new AbortController();
let receivedSignal: NodeJS.Signals | undefined;
let installed = false;

export function interruptSignal(): AbortSignal {
  return controller.signal;
}

export function interruptedBy(): NodeJS.Signals | undefined {
  return receivedSignal;
}

/** Install once per CLI run. A second signal while cleaning up is ignored: leaking mounts is worse than waiting. */
export function installSignalHandlers(onSignal?: (sig: NodeJS.Signals) => void): void {
  if (installed) return;
  installed = true;
  const handler = (sig: NodeJS.Signals): void => {
    if (receivedSignal) {
      process.stderr.write(`\n${sig} again: still releasing mounts and temp files, please wait\n`);
      return;
    }
    receivedSignal = sig;
    onSignal?.(sig);
    controller.abort(new Error(`received ${sig}`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('SIGHUP', handler);
}

type Release = () => Promise<void> | void;

/**
 * A stack of things to release, in reverse order of acquisition. Release never throws half-way:
 * every entry is attempted and the failures are returned together.
 */
export class ResourceStack {
  private readonly entries: { name: string; release: Release }[] = [];

  push(name: string, release: Release): void {
    this.entries.push({ name, release });
  }

  get size(): number {
    return this.entries.length;
  }

  async releaseAll(): Promise<string[]> {
    const failures: string[] = [];
    while (this.entries.length > 0) {
      const entry = this.entries.pop()!;
      try {
        await entry.release();
      } catch (err) {
        failures.push(`${entry.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return failures;
  }
}

/**
 * Runs promises side by side and waits for all of them even when one fails (so no tool is left running and no
 * rejection unobserved), then returns their values or throws the first failure.
 */
export async function together<T extends readonly unknown[]>(...work: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(work);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
