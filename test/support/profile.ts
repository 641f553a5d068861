/**
 * One way to write a test profile: a typed document (the profile schema's input type, so a misspelt section is a
 * compile error) serialized with yaml.stringify, never YAML pieced together from strings.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type * as z from 'zod';
import type { ProfileDocumentSchema } from '../../src/profile/schema.js';
import { FIXTURES, REPO, fixtureIso, fixtureSha, type Variant } from './cli.js';

/** A profile as a user writes it, before defaults and path resolution. */
export type ProfileDocument = z.input<typeof ProfileDocumentSchema>;

/** A profile that `extends:` another: every section optional (the base profile has them). */
export type ChildProfileDocument = Partial<ProfileDocument> & { extends: string };

/** Writes `doc` to dir/name.yaml and returns its path. `lineWidth: 0`: no folded lines, one value per line. */
export function writeProfile(dir: string, name: string, doc: ProfileDocument | ChildProfileDocument): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(doc, { lineWidth: 0 }));
  return file;
}

/** A fixture ISO as the base, pinned by its sha256. */
export function fixtureBase(variant: Variant = 'single'): ProfileDocument['base'] {
  return { path: fixtureIso(variant), sha256: fixtureSha(variant) };
}

/** The repository's fixture overlay (the files the fixture's boot checks look for), onto /. */
export const FIXTURE_OVERLAY = { source: join(REPO, 'overlay/fixture/rootfs'), target: '/' };

/**
 * A quick profile named `name`: the single-squashfs fixture verified through fixtures/out/SHA256SUMS, a gzip rootfs
 * and the fixture overlay; `sections` replace those top-level sections or add others (chroot, hooks, ...).
 */
export function fixtureProfile(name: string, sections: Partial<ProfileDocument> = {}): ProfileDocument {
  return {
    name,
    base: { path: fixtureIso('single'), sha256sums: join(FIXTURES, 'SHA256SUMS') },
    rootfs: { compression: 'gzip' },
    overlay: [FIXTURE_OVERLAY],
    ...sections,
  };
}
