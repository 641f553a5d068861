/**
 * GnuPG. Two uses: a private home directory for the package repository's key (generate or import it, export its
 * public half, sign the repository), and release signing of SHA256SUMS with the user's own keyring, checked the way
 * a user checks it.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ExitCode, IsoBuildError } from '../errors.js';
import { run } from './process.js';
import { reapGpgHome } from './reaper.js';
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

export interface PrivateGpgHome {
  home: string;
  /** Stops the home's gpg-agent and removes the home (with the secret key in it). Safe to call twice. */
  close(): Promise<void>;
}

/**
 * A private gpg home at `dir` (inside the build's work directory, never /tmp): what a killed build left there (its
 * agent, the unprotected secret key) goes first. The agent it starts is stopped by close(), and by the reaper should
 * iso-build be killed (gpg-agent daemonizes out of every process group the build knows).
 */
export async function openPrivateGpgHome(dir: string, log?: BuildLog): Promise<PrivateGpgHome> {
  const home = resolve(dir);
  if (existsSync(home)) {
    await stopAgent({ home, log }).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
  const unreap = reapGpgHome(home);
  prepareGpgHome(home);
  let closed = false;
  return {
    home,
    close: async () => {
      if (closed) return;
      closed = true;
      await stopAgent({ home, log }).catch(() => undefined);
      rmSync(home, { recursive: true, force: true });
      unreap();
    },
  };
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

// --- Release signing (SHA256SUMS.asc) with the user's own keyring ($GNUPGHOME or ~/.gnupg), and checking it as a user does. ---

export interface GpgCall {
  log?: BuildLog;
}

/** The primary key fingerprint of the secret key `key` (fingerprint, key id or user id) in the user's keyring. */
export async function signingKeyFingerprint(key: string, call: GpgCall = {}): Promise<string> {
  const res = await run('gpg', ['--batch', '--no-tty', '--with-colons', '--fingerprint', '--list-secret-keys', key], {
    log: call.log,
    what: `gpg lookup of signing key ${key}`,
    okExitCodes: [2],
  });
  const fpr = /^fpr:(?:[^:]*:){8}([0-9A-F]{40,64}):/m.exec(res.stdout);
  if (res.exitCode !== 0 || !fpr) {
    throw new IsoBuildError(`gpg has no secret key "${key}" to sign SHA256SUMS with`, {
      hint: `ISO_BUILD_GPG_KEY or the profile's release.gpgKey names it; check \`gpg --list-secret-keys\` (GNUPGHOME=${process.env.GNUPGHOME ?? '~/.gnupg'})`,
      exitCode: ExitCode.Usage,
    });
  }
  return fpr[1]!;
}

/**
 * Write an armored detached signature of `file` to `signature` with `key`. A passphrase, if the key has one, comes
 * from ISO_BUILD_GPG_PASSPHRASE on stdin (never on the command line).
 */
export async function signFileDetached(file: string, signature: string, key: string, call: GpgCall = {}): Promise<void> {
  const passphrase = process.env.ISO_BUILD_GPG_PASSPHRASE;
  const args = ['--batch', '--yes', '--no-tty', '--local-user', key, '--armor', '--detach-sign', '--output', resolve(signature)];
  if (passphrase !== undefined) args.push('--pinentry-mode', 'loopback', '--passphrase-fd', '0');
  await run('gpg', [...args, resolve(file)], {
    input: passphrase !== undefined ? `${passphrase}\n` : undefined,
    log: call.log,
    what: `gpg signature of ${file} with key ${key}`,
  });
}

export type SignatureCheck = { ok: true; fingerprint: string; primaryFingerprint: string } | { ok: false; reason: string };

/**
 * Check `signature` over `file`. With `keyFile` (an exported public key, armored or binary) the check uses a throw-away
 * keyring holding only that key; with `keyId` the signer must be that key (fingerprint or key id suffix) in the
 * caller's keyring; with neither, any valid key in the caller's keyring.
 */
export async function verifyFileSignature(
  signature: string,
  file: string,
  opts: { keyFile?: string; keyId?: string; log?: BuildLog } = {},
): Promise<SignatureCheck> {
  let tempHome: string | undefined;
  let unreap = (): void => undefined;
  try {
    const env: Record<string, string> = {};
    if (opts.keyFile) {
      tempHome = mkdtempSync(join(tmpdir(), 'iso-build-gpg-'));
      unreap = reapGpgHome(tempHome); // a public key only, but its agent must not outlive us
      env.GNUPGHOME = tempHome;
      const imported = await run('gpg', ['--batch', '--no-tty', '--status-fd', '1', '--import', resolve(opts.keyFile)], {
        env,
        what: `gpg import of ${opts.keyFile}`,
        okExitCodes: [2],
      });
      if (!/^\[GNUPG:\] IMPORT_OK /m.test(imported.stdout)) {
        return { ok: false, reason: `${opts.keyFile} holds no OpenPGP public key gpg can import` };
      }
    }
    const { stdout } = await run('gpg', ['--batch', '--no-tty', '--status-fd', '1', '--verify', resolve(signature), resolve(file)], {
      env,
      log: opts.log,
      what: `gpg --verify ${signature}`,
      okExitCodes: [1, 2],
    });
    return interpretStatus(stdout, opts.keyId);
  } finally {
    if (tempHome) {
      // gpg may have started an agent for the throw-away home; stop it before deleting the directory.
      await run('gpgconf', ['--kill', 'all'], { env: { GNUPGHOME: tempHome }, what: 'gpgconf --kill', uninterruptible: true }).catch(() => undefined);
      rmSync(tempHome, { recursive: true, force: true });
      unreap();
    }
  }
}

/** Reads gpg's machine-readable status lines (GnuPG doc/DETAILS). */
export function interpretStatus(status: string, keyId?: string): SignatureCheck {
  const line = (tag: string): string[] | undefined => {
    const m = new RegExp(`^\\[GNUPG:\\] ${tag}(?: (.*))?$`, 'm').exec(status);
    return m ? (m[1] ?? '').split(' ') : undefined;
  };
  const bad = line('BADSIG');
  if (bad) return { ok: false, reason: `BAD signature (key ${bad[0]}): the signed file was changed after signing` };
  const err = line('ERRSIG');
  const noKey = line('NO_PUBKEY');
  if (noKey || err?.[5] === '9') {
    return { ok: false, reason: `the signature was made by key ${noKey?.[0] ?? err?.[0]}, which is not the key to check against` };
  }
  if (err) return { ok: false, reason: `gpg cannot check the signature (error code ${err[5] ?? '?'})` };
  if (line('NODATA')) return { ok: false, reason: 'the signature file holds no OpenPGP signature' };
  if (line('EXPKEYSIG') || line('REVKEYSIG')) return { ok: false, reason: 'the signing key is expired or revoked' };
  const valid = line('VALIDSIG');
  if (!valid || !line('GOODSIG')) return { ok: false, reason: 'gpg did not report a good signature' };
  const fingerprint = valid[0]!;
  const primaryFingerprint = valid[9] || fingerprint;
  if (keyId) {
    const want = keyId.replace(/^0x/i, '').replace(/\s+/g, '').toUpperCase();
    if (!/^[0-9A-F]{8,64}$/.test(want)) return { ok: false, reason: `--key "${keyId}" is neither a key file nor a fingerprint or key id` };
    if (![fingerprint, primaryFingerprint].some((f) => f.toUpperCase().endsWith(want))) {
      return { ok: false, reason: `the signature was made by key ${primaryFingerprint}, not by ${keyId}` };
    }
  }
  return { ok: true, fingerprint, primaryFingerprint };
}
