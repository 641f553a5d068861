/** Shared helpers for integration and e2e tests: run the real CLI, read results back with independent tools. */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(REPO, 'bin/iso-build.js');
export const FIXTURES = join(REPO, 'fixtures/out');

export type Variant = 'single' | 'layered' | 'live';

export function fixtureIso(variant: Variant): string {
  return join(FIXTURES, `fixture-${variant}.iso`);
}

export function haveFixtures(): boolean {
  return (['single', 'layered', 'live'] as const).every((v) => existsSync(fixtureIso(v)));
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(process.env.ISO_BUILD_TEST_TMP ?? tmpdir(), `isobuild-test-${prefix}-`));
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const res = spawnSync('node', [CLI, ...args], {
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, CI: 'true', ...opts.env },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return { code: res.status, signal: res.signal, stdout: res.stdout, stderr: res.stderr };
}

/** Like runCli, without blocking the event loop (for tests that serve files to the CLI from this process). */
export function runCliAsync(args: string[], opts: { env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const child = spawn('node', [CLI, ...args], { cwd: REPO, env: { ...process.env, CI: 'true', ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

/** Start the CLI, call `interrupt` with a function that sends SIGINT once `ready()` is true, and resolve on exit. */
export function runCliAndInterrupt(args: string[], ready: () => boolean, opts: { timeoutMs?: number } = {}): Promise<CliResult & { interrupted: boolean }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('node', [CLI, ...args], { cwd: REPO, env: { ...process.env, CI: 'true' } });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const poll = setInterval(() => {
      if (!interrupted && ready()) {
        interrupted = true;
        child.kill('SIGINT');
      }
    }, 100);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI did not finish within ${opts.timeoutMs ?? 180000} ms`));
    }, opts.timeoutMs ?? 180_000);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, interrupted });
    });
  });
}

/** Mount points at or under `dir`, read with findmnt (not with the code under test). */
export function findmntUnder(dir: string): string[] {
  const out = execFileSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' });
  return out.split('\n').filter((m) => m === dir || m.startsWith(`${dir}/`));
}

export function sh(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function fixtureSha(variant: Variant): string {
  return sha256(fixtureIso(variant));
}
