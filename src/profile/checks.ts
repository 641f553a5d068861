/**
 * Pure validators shared by the profile schema and the loader. They return a reason
 * ("expected ...") instead of throwing so zod refinements and the loader can report
 * them with the YAML position of the offending value.
 */
import path from 'node:path';

export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]*$/;
export const VOLUME_LABEL_PATTERN = /^[A-Za-z0-9 _.-]{1,32}$/;
export const SHA256_PATTERN = /^[0-9a-fA-F]{64}$/;
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const SQUASHFS_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*\.squashfs$/;

/** A user or group: a name as useradd accepts it, or a numeric id. */
const ID_PART = '(?:[A-Za-z_][A-Za-z0-9_.-]*\\$?|[0-9]{1,10})';
export const OWNER_PATTERN = new RegExp(`^(?:keep|${ID_PART}:${ID_PART})$`);

/**
 * Overlay targets are joined onto a rootfs or ISO tree; anything that could climb out
 * of it ('..' segments in any spelling, backslashes that some tools treat as separators,
 * NUL that truncates C strings) is rejected rather than normalized away.
 */
export function isSafeTarget(target: string): boolean {
  if (!target.startsWith('/')) return false;
  if (target.includes('\\') || target.includes('\0')) return false;
  return !target.split('/').includes('..');
}

/** '/etc//ssh/./' -> '/etc/ssh'; only called on targets that passed isSafeTarget. */
export function normalizeTarget(target: string): string {
  const normalized = path.posix.normalize(target);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}

/** Base name of the ISO behind a URL ('' when the URL path ends in '/'). */
export function urlBasename(url: string): string {
  const last = new URL(url).pathname.split('/').pop() ?? '';
  return decodeURIComponent(last);
}

/** A name that is safe as a single path component. */
export function isPlainFileName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}
