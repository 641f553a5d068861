/**
 * Retries of network fetches (payload downloads, skopeo): `$ISO_BUILD_FETCH_RETRIES` retries (default 3) after the
 * first attempt, waiting `$ISO_BUILD_FETCH_BACKOFF_MS` (default 1000) and doubling the wait each time.
 */
import type { BuildLog } from './build-log.js';

function fetchAttempts(): number {
  return Math.max(1, Number(process.env.ISO_BUILD_FETCH_RETRIES ?? 3) + 1);
}

function backoffMs(attempt: number): number {
  return Number(process.env.ISO_BUILD_FETCH_BACKOFF_MS ?? 1000) * 2 ** attempt;
}

export interface RetryOptions {
  log?: BuildLog;
  /** The build-log prefix of a retry line, e.g. `download: <url>`. */
  label: string;
}

/**
 * Calls `once` until it returns; a failure `retry` says is transient is retried after a backoff while attempts are
 * left, any other (and the last) is thrown as `giveUp` makes it.
 */
export async function withRetries<T>(
  opts: RetryOptions,
  once: () => Promise<T>,
  retry: (err: unknown) => boolean,
  giveUp: (err: unknown) => unknown = (err) => err,
): Promise<T> {
  const attempts = fetchAttempts();
  for (let attempt = 0; ; attempt++) {
    try {
      return await once();
    } catch (err) {
      if (!retry(err) || attempt + 1 >= attempts) throw giveUp(err);
      const wait = backoffMs(attempt);
      opts.log?.line(`${opts.label}: ${err instanceof Error ? err.message : String(err)}; retrying in ${wait} ms`);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
