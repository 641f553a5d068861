/**
 * Tests that state what they need. A root-, tool- or fixture-dependent describe/it passes `needs(...)` as its options:
 *
 *     describe('build from the fixture', needs(requireRoot(), requireFixtures()), () => { ... });
 *
 * When something is missing, outside CI the test is skipped and the reason is printed at the end of the run
 * (test/support/skip-reporter.ts); under CI=true the file fails before any test runs (test/support/needs-setup.ts),
 * so a CI job that lacks root or a tool can never pass by skipping.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestOptions } from 'vitest';
import { FIXTURES, fixtureIso } from './cli.js';

declare module 'vitest' {
  interface TaskMeta {
    /** Why the test cannot run here (set by needs() only when something is missing). */
    missing?: string;
  }
}

/** One requirement: `missing` says what is absent, in words a reader can act on; undefined when it is there. */
export interface Requirement {
  missing: string | undefined;
}

/** True under CI=true (or any CI value other than false/0), where a missing requirement fails instead of skipping. */
export const IN_CI = process.env.CI !== undefined && !['', 'false', '0'].includes(process.env.CI);

export function requireRoot(why = 'a build mounts images and runs chroot'): Requirement {
  return { missing: process.getuid?.() === 0 ? undefined : `needs root (${why})` };
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir || '.', tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Programs looked up on PATH, as the code under test finds them. */
export function requireTools(...tools: string[]): Requirement {
  const absent = tools.filter((t) => !onPath(t));
  return { missing: absent.length ? `needs ${absent.join(', ')} on PATH (scripts/setup installs them)` : undefined };
}

/** The three fixture ISOs and their SHA256SUMS in fixtures/out. */
export function requireFixtures(): Requirement {
  const files = [fixtureIso('single'), fixtureIso('layered'), fixtureIso('live'), join(FIXTURES, 'SHA256SUMS')];
  return { missing: files.every((f) => existsSync(f)) ? undefined : 'needs the fixture ISOs in fixtures/out (scripts/make-fixture-iso --variant all, as root)' };
}

/** Any other file a test reads; `how` says how to get it. */
export function requireFile(path: string, how: string): Requirement {
  return { missing: existsSync(path) ? undefined : `needs ${path} (${how})` };
}

/** Test or suite options: skip with the reasons outside CI; under CI, record them so needs-setup.ts fails the file. */
export function needs(...requirements: Requirement[]): TestOptions {
  const missing = requirements.flatMap((r) => (r.missing ? [r.missing] : [])).join('; ');
  if (!missing) return {};
  return IN_CI ? { meta: { missing } } : { skip: true, meta: { missing } };
}
