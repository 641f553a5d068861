/**
 * HTTP(S) downloads into the content-addressed cache: the sha256 is computed while the bytes stream in, a download
 * is written as `<hex>.partial` and renamed only after its digest matched (a killed download never leaves a file that
 * looks complete), an interrupted transfer resumes with a Range request, transient failures (connection drops,
 * timeouts, 5xx, 429) are retried with exponential backoff, redirects are followed.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { dirname, join } from 'node:path';
import { ExitCode, IsoBuildError } from '../errors.js';
import { withRetries } from '../retry.js';
import type { BuildLog } from '../build-log.js';

export interface DownloadOptions {
  /** PEM file of extra CA certificates. */
  caFile?: string;
  log?: BuildLog;
  /** Progress: bytes so far, total (when known). */
  onProgress?: (done: number, total: number | undefined) => void;
}

/** Where a blob with this sha256 lives in the cache. */
export function blobPath(cacheDir: string, sha256: string): string {
  return join(cacheDir, 'packages', 'blobs', 'sha256', sha256);
}

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
  ) {
    super(`HTTP ${status}`);
  }
}

/** Hides user:password in URLs that go into messages. */
export function redact(url: string): string {
  return url.replace(/^(\w+:\/\/)[^/@]*@/, '$1***@');
}

function agentOptions(caFile: string | undefined): https.RequestOptions {
  return caFile ? { ca: [...rootCertificates, readFileSync(caFile, 'utf8')] } : {};
}

interface Opened {
  response: http.IncomingMessage;
  url: string;
}

/** GET with redirects followed; a non-2xx status is an HttpStatusError (the body is drained). */
function open(url: string, headers: Record<string, string>, caFile: string | undefined, redirects = 0): Promise<Opened> {
  return new Promise((resolvePromise, reject) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    const auth = u.username ? { Authorization: `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}` } : {};
    const req = lib.get(u, { headers: { 'User-Agent': 'iso-build', ...auth, ...headers }, timeout: 60_000, ...agentOptions(caFile) }, (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && response.headers.location && redirects < 5) {
        response.resume();
        open(new URL(response.headers.location, u).toString(), headers, caFile, redirects + 1).then(resolvePromise, reject);
        return;
      }
      if (status < 200 || status >= 300) {
        response.resume();
        reject(new HttpStatusError(status, url));
        return;
      }
      resolvePromise({ response, url });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

function isTransient(err: unknown): boolean {
  if (err instanceof HttpStatusError) return err.status >= 500 || err.status === 429 || err.status === 408;
  return true; // connection refused/reset, premature close, timeouts, DNS
}

function errorFor(what: string, url: string, err: unknown): IsoBuildError {
  const shown = redact(url);
  if (err instanceof HttpStatusError) {
    if (err.status === 401 || err.status === 403) {
      return new IsoBuildError(`${what} ${shown}: HTTP ${err.status} (access refused)`, {
        exitCode: ExitCode.Usage,
        hint: 'the server wants credentials: put them in the URL (https://user:token@host/...) or make the file public',
      });
    }
    if (err.status === 404 || err.status === 410) {
      return new IsoBuildError(`${what} ${shown}: HTTP ${err.status} (not found)`, { exitCode: ExitCode.Usage, hint: 'check the URL in the profile' });
    }
    if (err.status < 500) return new IsoBuildError(`${what} ${shown}: HTTP ${err.status}`, { exitCode: ExitCode.Usage, hint: 'check the URL in the profile' });
    return new IsoBuildError(`${what} ${shown}: HTTP ${err.status} (server error, retried)`, { exitCode: ExitCode.Failed, hint: 'the server failed; try again later' });
  }
  const message = (err as Error).message;
  if (/certificate|self.signed|CERT_|unable to verify/i.test(message)) {
    return new IsoBuildError(`${what} ${shown}: TLS failed (${message})`, { exitCode: ExitCode.Usage, hint: "name the server's CA in packages.caFile" });
  }
  return new IsoBuildError(`${what} ${shown}: ${message} (retried)`, { exitCode: ExitCode.Failed, hint: 'check the network; a partial download resumes on the next run' });
}

/** `once` with the transient failures retried; the last failure (or a permanent one) as an IsoBuildError. */
function retried<T>(what: string, url: string, opts: DownloadOptions, once: () => Promise<T>): Promise<T> {
  return withRetries(
    { log: opts.log, label: `download: ${redact(url)}` },
    once,
    (err) => !(err instanceof IsoBuildError) && isTransient(err),
    (err) => (err instanceof IsoBuildError ? err : errorFor(what, url, err)),
  );
}

/** A small document (index.yaml) read whole. */
export async function fetchText(url: string, what: string, opts: DownloadOptions = {}): Promise<string> {
  return retried(what, url, opts, async () => {
    const { response } = await open(url, {}, opts.caFile);
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    if (!response.complete) throw new Error('connection closed before the end of the response');
    return Buffer.concat(chunks).toString('utf8');
  });
}

async function hashOf(file: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
}

/** Appends the rest of `url` to `partial` (from its current size), hashing everything; returns the full sha256. */
async function downloadOnce(url: string, partial: string, opts: DownloadOptions): Promise<string> {
  const have = existsSync(partial) ? statSync(partial).size : 0;
  const { response } = await open(url, have > 0 ? { Range: `bytes=${have}-` } : {}, opts.caFile);
  const resumed = have > 0 && response.statusCode === 206;
  const hash = createHash('sha256');
  if (resumed) {
    await hashOf(partial, hash);
    opts.log?.line(`download: ${redact(url)}: resuming at byte ${have}`);
  }
  const length = Number(response.headers['content-length'] ?? NaN);
  const total = Number.isFinite(length) ? length + (resumed ? have : 0) : undefined;
  let done = resumed ? have : 0;
  const out = createWriteStream(partial, { flags: resumed ? 'a' : 'w' });
  try {
    await new Promise<void>((resolvePromise, reject) => {
      response.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        done += chunk.length;
        opts.onProgress?.(done, total);
        if (!out.write(chunk)) {
          response.pause();
          out.once('drain', () => response.resume());
        }
      });
      response.on('end', () => (response.complete ? resolvePromise() : reject(new Error('connection closed mid-download'))));
      response.on('aborted', () => reject(new Error('connection closed mid-download')));
      response.on('error', reject);
      out.on('error', reject);
    });
  } finally {
    await new Promise<void>((r) => out.end(r));
  }
  if (total !== undefined && done !== total) throw new Error(`connection closed after ${done} of ${total} bytes`);
  return hash.digest('hex');
}

export interface Fetched {
  path: string;
  sha256: string;
  size: number;
  /** false when the cache had it. */
  downloaded: boolean;
}

/** `url` appended to `partial` (resuming what it holds), transient failures retried; returns the whole file's sha256. */
async function downloadPartial(url: string, partial: string, what: string, opts: DownloadOptions): Promise<string> {
  mkdirSync(dirname(partial), { recursive: true });
  try {
    return await retried(what, url, opts, () => downloadOnce(url, partial, opts));
  } catch (err) {
    // An HTTP error answer (401, 404, 500 ...) never wrote a byte of the file: nothing of it may stay.
    if (existsSync(partial) && statSync(partial).size === 0) rmSync(partial, { force: true });
    throw err;
  }
}

/**
 * `url` to `path`, a file that must have `sha256`: an existing `path` is used without any network access; else the
 * download goes to `<path>.partial` (resumed after a dropped connection, retried) and is renamed to `path` only after
 * its digest matched; a mismatch is an input error and leaves nothing behind. Errors start with `what` and the URL.
 */
export async function downloadVerified(url: string, path: string, sha256: string, what: string, opts: DownloadOptions = {}): Promise<Fetched> {
  if (existsSync(path)) return { path, sha256, size: statSync(path).size, downloaded: false };
  const partial = `${path}.partial`;
  const actual = await downloadPartial(url, partial, what, opts);
  if (actual !== sha256) {
    rmSync(partial, { force: true });
    throw new IsoBuildError(`${what} ${redact(url)}: sha256 ${actual}, expected ${sha256}`, {
      exitCode: ExitCode.Usage,
      hint: 'the file at the URL is not the one the profile/lock names: fix the sha256 (or the URL) on purpose',
    });
  }
  renameSync(partial, path);
  return { path, sha256, size: statSync(path).size, downloaded: true };
}

/**
 * `url` into the cache. With `sha256` as downloadVerified; without it (locking a chart whose index gives no digest)
 * the file lands under the digest it turns out to have.
 */
export async function fetchToCache(url: string, sha256: string | undefined, cacheDir: string, what: string, opts: DownloadOptions = {}): Promise<Fetched> {
  if (sha256) return downloadVerified(url, blobPath(cacheDir, sha256), sha256, what, opts);
  const partial = join(cacheDir, 'packages', 'blobs', 'by-url', `${createHash('sha256').update(url).digest('hex')}.partial`);
  const actual = await downloadPartial(url, partial, what, opts);
  const final = blobPath(cacheDir, actual);
  mkdirSync(dirname(final), { recursive: true });
  renameSync(partial, final);
  return { path: final, sha256: actual, size: statSync(final).size, downloaded: true };
}

/** Runs `fn` over `items` with at most `limit` at a time; results in input order; the first failure wins. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure;
  return results;
}

export function fetchJobs(): number {
  return Math.max(1, Number(process.env.ISO_BUILD_FETCH_JOBS ?? 4));
}
