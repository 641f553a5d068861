/**
 * SHA-256 whose state can be saved and resumed: the native addon native/sha256-state.c (OpenSSL's SHA256_CTX, the
 * same SHA-NI code Node's crypto runs), so the in-place ISO writer can keep the hash of the gigabytes before its
 * insertion point from one build to the next. Without the addon (no C compiler when the package was built) it is
 * Node's crypto Hash, whose state cannot be saved: `save()` returns undefined and every write hashes everything.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

interface Addon {
  init(state: Buffer): void;
  update(state: Buffer, data: Uint8Array): void;
  digest(state: Buffer): Buffer;
  stateBytes: number;
}

export interface ResumableSha256 {
  update(data: Uint8Array): void;
  /** A copy of the state after the bytes so far (to resume from with `resumeSha256`); undefined without the addon. */
  save(): Buffer | undefined;
  /** Hex digest; the hash is finished after it. */
  digest(): string;
}

let loaded: { addon?: Addon; why?: string } | undefined;

/** The addon's path in the package (scripts/build-native.mjs writes it). */
export function sha256AddonPath(): string {
  return join(packageRoot(), 'dist/native/sha256-state.node');
}

function load(): { addon?: Addon; why?: string } {
  if (loaded) return loaded;
  const path = sha256AddonPath();
  if (!existsSync(path)) return (loaded = { why: `${path} was not built (npm run build compiles it when a C compiler is there)` });
  try {
    const addon = createRequire(import.meta.url)(path) as Addon;
    if (typeof addon.update !== 'function' || addon.stateBytes < 100) return (loaded = { why: `${path} is not the sha256-state addon` });
    return (loaded = { addon });
  } catch (err) {
    return (loaded = { why: `${path} does not load: ${(err as Error).message.split('\n')[0]}` });
  }
}

/** Why hash states cannot be saved here, or undefined when they can. */
export function sha256StateUnavailable(): string | undefined {
  return load().why;
}

/** A new SHA-256; its state can be saved when the addon is there. */
export function resumableSha256(): ResumableSha256 {
  const { addon } = load();
  if (!addon) {
    const hash = createHash('sha256');
    return { update: (d) => void hash.update(d), save: () => undefined, digest: () => hash.digest('hex') };
  }
  const state = Buffer.alloc(addon.stateBytes);
  addon.init(state);
  return fromState(addon, state);
}

/** A SHA-256 that goes on from a saved state; undefined without the addon or for a state of the wrong size. */
export function resumeSha256(saved: Buffer): ResumableSha256 | undefined {
  const { addon } = load();
  if (!addon || saved.length !== addon.stateBytes) return undefined;
  return fromState(addon, Buffer.from(saved));
}

function fromState(addon: Addon, state: Buffer): ResumableSha256 {
  return {
    update: (d) => addon.update(state, d),
    save: () => Buffer.from(state),
    digest: () => addon.digest(state).toString('hex'),
  };
}
