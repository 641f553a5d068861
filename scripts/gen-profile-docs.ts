/**
 * Regenerates docs/profile.md from the profile schema (src/profile/schema.ts).
 *   npx tsx scripts/gen-profile-docs.ts           write the file
 *   npx tsx scripts/gen-profile-docs.ts --check   exit 1 if it is out of date (for CI)
 * test/unit/profile-docs.test.ts runs the same comparison.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderProfileDocs } from '../src/profile/docs.js';

const target = fileURLToPath(new URL('../docs/profile.md', import.meta.url));

async function current(): Promise<string | undefined> {
  try {
    return await readFile(target, 'utf8');
  } catch {
    return undefined;
  }
}

const expected = renderProfileDocs();
if (process.argv.includes('--check')) {
  if ((await current()) !== expected) {
    console.error(`${target} is out of date; run: npx tsx scripts/gen-profile-docs.ts`);
    process.exitCode = 1;
  }
} else {
  await writeFile(target, expected);
  console.log(`wrote ${target}`);
}
