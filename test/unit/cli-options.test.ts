/** The CLI's table (src/cli-options.ts) is the one source of commander, --help and the README's tables. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT, VERBS, topLevelVerbs } from '../../src/cli-options.js';
import { readmeBlockNames, readmeBlocks, updateReadme } from '../../src/cli-readme.js';
import { program } from '../../src/cli.js';
import { suggest } from '../../src/suggest.js';
import { REPO } from '../support/cli.js';

const README = readFileSync(join(REPO, 'README.md'), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('CLI options table', () => {
  it('the README tables are the ones the table generates (npx tsx scripts/gen-readme-tables.ts rewrites them)', () => {
    expect(updateReadme(README)).toBe(README);
    expect(readmeBlockNames(README).sort()).toEqual([...readmeBlocks().keys()].sort());
  });

  it('--help lists every verb, and each group its verbs', () => {
    const cli = program();
    const help = cli.helpInformation();
    for (const verb of topLevelVerbs()) expect(help).toMatch(new RegExp(`^  ${verb}\\b`, 'm'));
    for (const v of VERBS.filter((x) => x.name.includes(' '))) {
      const [group, sub] = v.name.split(' ') as [string, string];
      const groupCmd = cli.commands.find((c) => c.name() === group)!;
      expect(groupCmd.helpInformation()).toMatch(new RegExp(`^  ${sub}\\b`, 'm'));
    }
  });

  it('every option of the table is an option of its commander verb', () => {
    const cli = program();
    for (const v of VERBS) {
      const cmd = v.name.split(' ').reduce((c, n) => c.commands.find((x) => x.name() === n)!, cli);
      expect(cmd.options.map((o) => o.flags)).toEqual(v.options.map((o) => o.flags));
    }
  });

  it('every ISO_BUILD_* variable src/ reads is documented', () => {
    const read = new Set<string>();
    for (const file of sourceFiles(join(REPO, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\b(ISO_BUILD_[A-Z0-9_]+)\b/g)) read.add(m[1]!);
    }
    const documented = ENVIRONMENT.map((e) => e.name);
    expect([...read].filter((name) => !documented.includes(name)).sort()).toEqual([]);
    expect(documented).toContain('ISO_BUILD_GPG_PASSPHRASE');
    for (const name of read) expect(README).toContain(`\`${name}\``);
  });
});

describe('did you mean', () => {
  const verbs = topLevelVerbs();
  it.each([
    ['bild', 'build'],
    ['biuld', 'build'],
    ['verfy', 'verify'],
    ['insp', 'inspect'],
    ['packges', 'packages'],
  ])('%s -> %s', (word, meant) => expect(suggest(word, verbs)).toBe(meant));
  it.each(['frobnicate', 'x', 'latest'])('%s -> nothing', (word) => expect(suggest(word, verbs)).toBeUndefined());
});
