/** Staging names of release files, and what a killed build left under them (cheap to import: the build's start uses it). */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_NAME, NOTES_NAME, RELEASE_ARTIFACTS, REPORT_NAME, SIGNATURE_NAME, SUMS_NAME } from '../product.js';

/** Where --check-reproducible --force keeps the earlier release's files (hard links) until the check is decided. */
export const EARLIER_RELEASE_DIR = '.iso-build-earlier-release';

/**
 * The lock a build holds on its release directory for its life (owner-lock.ts): two builds with different work
 * directories must not write the same `*.iso.partial`, nor remove the other's as a killed build's leftover.
 */
export const OUTPUT_LOCK = '.iso-build-lock';

/** The staging name of a release file (the next build in the directory removes one a killed build left). */
export function stagedName(final: string): string {
  return `${final}.partial`;
}

/**
 * What a killed build left in the release directory: staging files (`*.iso.partial`, `SHA256SUMS.partial`, ...) and
 * release files of an ISO that is not there (an older iso-build wrote them before the ISO's rename). Returns what went.
 */
export function removeKilledBuildLeftovers(outputDir: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(outputDir);
  } catch {
    return removed;
  }
  const staging = new Set(RELEASE_ARTIFACTS.map((n) => stagedName(n)));
  if (names.includes(EARLIER_RELEASE_DIR)) {
    // a killed --check-reproducible --force: the earlier release is at its place or replaced; the links only take space
    rmSync(join(outputDir, EARLIER_RELEASE_DIR), { recursive: true, force: true });
    removed.push(EARLIER_RELEASE_DIR);
  }
  for (const name of names) {
    if (name.endsWith('.iso.partial') || staging.has(name)) {
      rmSync(join(outputDir, name), { force: true });
      removed.push(name);
    }
  }
  const isoName = manifestIsoName(join(outputDir, MANIFEST_NAME));
  if (isoName !== undefined && !existsSync(join(outputDir, isoName))) {
    const sums = join(outputDir, SUMS_NAME);
    const sumsOfIt = existsSync(sums) && readFileSync(sums, 'utf8').split('\n').some((l) => l.endsWith(`  ${isoName}`));
    for (const name of [MANIFEST_NAME, NOTES_NAME, REPORT_NAME, ...(sumsOfIt ? [SUMS_NAME, SIGNATURE_NAME] : [])]) {
      if (existsSync(join(outputDir, name))) {
        rmSync(join(outputDir, name), { force: true });
        removed.push(name);
      }
    }
  }
  return removed;
}

function manifestIsoName(file: string): string | undefined {
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { iso?: { name?: unknown } };
    const name = doc.iso?.name;
    return typeof name === 'string' && name !== '' && !name.includes('/') ? name : undefined;
  } catch {
    return undefined;
  }
}
