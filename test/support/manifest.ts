/** A build-manifest.json for tests of what reads one (release notes, package changes): product P, version v2.0.0. */
import type { BuildManifest } from '../../src/release/manifest.js';
import { diffPackages, type PreviousRelease } from '../../src/release/notes.js';

export function testManifest(over: Partial<BuildManifest> = {}): BuildManifest {
  return {
    manifestVersion: 1,
    product: 'P',
    name: 'p',
    version: 'v2.0.0',
    sourceDateEpoch: 1700000000,
    iso: { name: 'p-v2.0.0.iso', sha256: 'f'.repeat(64), size: 1, volumeLabel: 'P', bootPlatforms: ['BIOS', 'UEFI'] },
    base: { name: 'base.iso', sha256: 'e'.repeat(64) },
    inputs: [],
    tools: {},
    packages: [],
    ...over,
  };
}

/** `before` as the previous release of `now`, with the package changes between them (as comparedToPrevious finds it). */
export async function asPrevious(before: BuildManifest, now: BuildManifest): Promise<PreviousRelease> {
  return { dir: '/x', manifest: before, changes: await diffPackages(before.packages, now.packages) };
}
