/** The release version rule: semver with a leading v (v1.0.0, v1.2.0-rc.1, v1.0.0+build.5), or a real date (20261122). */
import { valid } from 'semver';
import { usageError } from '../errors.js';

export function validateVersion(version: string): string {
  if (!isSemverTag(version) && !isRealDate(version)) {
    throw usageError(
      `"${version}" is not a release version`,
      'use semver with a leading v (v1.0.0, v1.2.0-rc.1) or a date (20261122)',
    );
  }
  return version;
}

/** `v` and a strict semver (semver itself would also take a second v, `=` or spaces: not in a file name). */
function isSemverTag(version: string): boolean {
  const rest = version.slice(1);
  return version.startsWith('v') && /^\d[0-9A-Za-z.+-]*$/.test(rest) && valid(rest) !== null;
}

function isRealDate(yyyymmdd: string): boolean {
  if (!/^\d{8}$/.test(yyyymmdd)) return false;
  const [y, m, d] = [yyyymmdd.slice(0, 4), yyyymmdd.slice(4, 6), yyyymmdd.slice(6)].map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}
