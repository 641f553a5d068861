/**
 * Rewrites README.md's generated tables (commands, options, environment) from src/cli-options.ts:
 *   npx tsx scripts/gen-readme-tables.ts           write the file
 *   npx tsx scripts/gen-readme-tables.ts --check   exit 1 if it is out of date
 * test/unit/cli-options.test.ts runs the same comparison.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { updateReadme } from '../src/cli-readme.js';

const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md');
const before = readFileSync(file, 'utf8');
const after = updateReadme(before);
if (process.argv.includes('--check')) {
  if (after !== before) {
    console.error('README.md tables are out of date: run npx tsx scripts/gen-readme-tables.ts');
    process.exit(1);
  }
} else if (after !== before) {
  writeFileSync(file, after);
  console.log(`wrote ${file}`);
}
