/** GnuPG in a private home directory: generate or import a signing key, export its public half, sign files. */
import { mkdirSync, chmodSync } from 'node:fs';
import { run } from './process.js';
import type { BuildLog } from '../build-log.js';

export interface GpgHome {
  /** GNUPGHOME: never the user's own. */
  home: string;
  log?: BuildLog;
  /** Seconds since the epoch used as "now" for keys and signatures (reproducible signatures). */
  epochSeconds?: number;
}

const BATCH = ['--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', ''];

function gpg(h: GpgHome, args: string[], what: string, input?: string | Buffer) {
  const time = h.epochSeconds === undefined ? [] : ['--faked-system-time', `${h.epochSeconds}!`];
  return run('gpg', ['--homedir', h.home, ...BATCH, ...time, ...args], { log: h.log, what, input, env: { GNUPGHOME: h.home } });
}

/** The secret key, ASCII-armored (to keep a generated key for later builds). */
export async function exportSecretKey(h: GpgHome, fingerprint: string): Promise<string> {
  const { stdout } = await gpg(h, ['--armor', '--export-secret-keys', fingerprint], 'gpg --export-secret-keys');
  return stdout;
}

export function prepareGpgHome(home: string): void {
  mkdirSync(home, { recursive: true });
  chmodSync(home, 0o700);
}

/** The fingerprint of the first secret key in the home directory. */
export async function secretKeyFingerprint(h: GpgHome): Promise<string> {
  const { stdout } = await gpg(h, ['--with-colons', '--list-secret-keys'], 'gpg --list-secret-keys');
  const fpr = /^fpr:(?::*)([0-9A-F]{40,64}):/m.exec(stdout);
  if (!fpr?.[1]) throw new Error('gpg: no secret key in the keyring');
  return fpr[1];
}

/** A new ed25519 signing key without passphrase; returns its fingerprint. */
export async function generateSigningKey(h: GpgHome, userId: string): Promise<string> {
  await gpg(h, ['--quick-generate-key', userId, 'ed25519', 'sign', 'never'], 'gpg --quick-generate-key');
  return secretKeyFingerprint(h);
}

/** Imports an ASCII-armored secret key; returns its fingerprint. */
export async function importSecretKey(h: GpgHome, file: string): Promise<string> {
  await gpg(h, ['--import', file], `gpg --import ${file}`);
  return secretKeyFingerprint(h);
}

export async function exportPublicKey(h: GpgHome, fingerprint: string, armor: boolean): Promise<Buffer> {
  const res = (await run('gpg', ['--homedir', h.home, '--batch', ...(armor ? ['--armor'] : []), '--export', fingerprint], {
    log: h.log,
    what: 'gpg --export',
    binary: true,
    env: { GNUPGHOME: h.home },
  })) as { stdoutBuffer?: Uint8Array };
  return Buffer.from(res.stdoutBuffer ?? new Uint8Array());
}

/** InRelease (clear-signed) and Release.gpg (armored detached) for an apt Release file. */
export async function clearSign(h: GpgHome, fingerprint: string, input: string, output: string): Promise<void> {
  await gpg(h, ['--yes', '--digest-algo', 'SHA512', '--local-user', fingerprint, '--clearsign', '--output', output, input], `gpg --clearsign ${input}`);
}

export async function detachSign(h: GpgHome, fingerprint: string, input: string, output: string): Promise<void> {
  await gpg(h, ['--yes', '--digest-algo', 'SHA512', '--local-user', fingerprint, '--armor', '--detach-sign', '--output', output, input], `gpg --detach-sign ${input}`);
}

/** gpgv against a keyring file: true when `signed` carries a good signature (of `data`, for a detached one). */
export async function verifySignature(keyring: string, signed: string, data?: string, log?: BuildLog): Promise<boolean> {
  const res = await run('gpgv', ['--keyring', keyring, signed, ...(data ? [data] : [])], { log, what: `gpgv ${signed}`, okExitCodes: [1, 2] });
  return res.exitCode === 0;
}

// --- Release signing (SHA256SUMS.asc), with the user's own keyring ($GNUPGHOME or ~/.gnupg). ---

export interface GpgCall {
  log?: BuildLog;
}

/** `gpg --version`'s first line, e.g. "gpg (GnuPG) 2.2.40". */
export async function gpgVersion(): Promise<string> {
  const { stdout } = await run('gpg', ['--version'], { what: 'gpg --version' });
  return stdout.split('\n')[0]?.trim() ?? '';
}

/** The fingerprint of the secret key `key` (key id, fingerprint or user id) in the user's keyring. */
export async function keyFingerprint(key: string, call: GpgCall = {}): Promise<string> {
  const { stdout } = await run('gpg', ['--batch', '--with-colons', '--list-secret-keys', key], { log: call.log, what: `gpg --list-secret-keys ${key}` });
  const fpr = /^fpr:(?::*)([0-9A-F]{40,64}):/m.exec(stdout);
  if (!fpr?.[1]) throw new Error(`gpg: no secret key ${key}`);
  return fpr[1];
}

/** An ASCII-armored detached signature of `file` written to `signature`, made with `key` from the user's keyring. */
export async function signDetached(file: string, signature: string, key: string, call: GpgCall = {}): Promise<void> {
  await run('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', '--local-user', key, '--armor', '--detach-sign', '--output', signature, file], {
    log: call.log,
    what: `gpg --detach-sign ${file}`,
  });
}

/** Stops the gpg-agent a private home started (it daemonizes, so it outlives the gpg command). */
export async function stopAgent(h: GpgHome): Promise<void> {
  await run('gpgconf', ['--homedir', h.home, '--kill', 'all'], { log: h.log, what: 'gpgconf --kill all', uninterruptible: true, okExitCodes: [1, 2] });
}

/** An ASCII-armored key file as a binary keyring (what gpgv reads). */
export async function dearmor(armored: string, output: string, log?: BuildLog): Promise<void> {
  await run('gpg', ['--batch', '--yes', '--no-options', '--homedir', '/nonexistent', '--dearmor', '--output', output, armored], { log, what: `gpg --dearmor ${armored}` });
}

/** The text a clear-signed file carries, after gpgv checked its signature against `keyring`. */
export async function verifiedClearText(keyring: string, signed: string, log?: BuildLog): Promise<string> {
  const { stdout } = await run('gpgv', ['--keyring', keyring, '--output', '-', signed], { log, what: `gpgv ${signed}` });
  return stdout;
}
