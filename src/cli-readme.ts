/**
 * The README's command, option and environment tables, generated from src/cli-options.ts. Each sits between
 * `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`; `npx tsx scripts/gen-readme-tables.ts` rewrites them.
 */
import { ENVIRONMENT, GLOBAL_OPTIONS, VERBS, defaultText, type OptionSpec } from './cli-options.js';

/** `--base-sha256 <hex>` → `--base-sha256 HEX`, for the README. */
function readableFlags(flags: string): string {
  return flags
    .split(', ')
    .map((f) => f.replace(/[<[]([a-z-]+)[>\]]/g, (_, v: string) => v.toUpperCase()))
    .join(', ');
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');
const code = (text: string): string => `\`${text}\``;

function optionsTable(options: readonly OptionSpec[]): string {
  const rows = options.map((o) => {
    const def = o.default !== undefined ? code(String(o.default)) : (o.defaultText ?? defaultText(o));
    const choices = o.choices ? ` (${o.choices.map(code).join(', ')})` : '';
    return `| ${code(readableFlags(o.flags))} | ${cell(def)} | ${cell(o.description)}${choices} |`;
  });
  return ['| option | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The generated blocks by name: `commands`, `options-<verb>` (spaces as dashes), `options-global`, `environment`. */
export function readmeBlocks(): Map<string, string> {
  const blocks = new Map<string, string>();
  blocks.set(
    'commands',
    ['| command | what it does |', '| --- | --- |', ...VERBS.map((v) => `| ${code(v.usage).replace(' / ', '` / `')} | ${cell(v.description)} |`)].join('\n'),
  );
  blocks.set('options-global', optionsTable(GLOBAL_OPTIONS));
  for (const v of VERBS) if (v.options.length > 0) blocks.set(`options-${v.name.replace(/ /g, '-')}`, optionsTable(v.options));
  const env = (kind: 'set' | 'hook'): string =>
    ['| variable | meaning |', '| --- | --- |', ...ENVIRONMENT.filter((e) => e.kind === kind).map((e) => `| ${e.name.split(' / ').map(code).join(' / ')} | ${cell(e.meaning)} |`)].join('\n');
  blocks.set('environment', env('set'));
  blocks.set('hook-environment', env('hook'));
  return blocks;
}

const BLOCK = /<!-- generated:([a-z-]+) -->\n[\s\S]*?<!-- \/generated:\1 -->/g;

/** The README with every generated block replaced by its current text; throws on a block name it does not know. */
export function updateReadme(readme: string): string {
  const blocks = readmeBlocks();
  return readme.replace(BLOCK, (_, name: string) => {
    const text = blocks.get(name);
    if (text === undefined) throw new Error(`README names an unknown generated block "${name}"`);
    return `<!-- generated:${name} -->\n${text}\n<!-- /generated:${name} -->`;
  });
}

/** The names of the generated blocks the README has. */
export function readmeBlockNames(readme: string): string[] {
  return [...readme.matchAll(BLOCK)].map((m) => m[1]!);
}
