/** Stage: md5sum.txt in Ubuntu's format ("<md5>  ./path", sorted by path in C order), as casper's integrity check reads it. */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashFile } from '../file-hash.js';
import { bootCatalogPath } from '../tools/xorriso.js';
import type { StageTask } from './task.js';

export const md5sumStage: StageTask = {
  title: 'Regenerate md5sum.txt',
  task: async (ctx, task) => {
    const excluded = md5Exclusions(ctx.bootSetup ?? []);
    const lines = await md5Lines(ctx.work.tree, excluded);
    writeFileSync(join(ctx.work.tree, 'md5sum.txt'), lines.join(''));
    task.title = `Regenerate md5sum.txt: ${lines.length} files`;
  },
};

/**
 * Files the md5sum.txt must not list: itself, the boot catalog xorriso writes, and boot images xorriso
 * patches (-boot-info-table writes the image's own location into it).
 */
export function md5Exclusions(bootSetup: string[]): Set<string> {
  const out = new Set(['md5sum.txt']);
  const catalog = bootCatalogPath(bootSetup);
  if (catalog) out.add(normalize(catalog));
  const patches = bootSetup.includes('-boot-info-table') || bootSetup.includes('--grub2-boot-info');
  for (let i = 0; i < bootSetup.length; i++) {
    if (bootSetup[i] === '-b' && patches && bootSetup[i + 1]) out.add(normalize(bootSetup[i + 1]!));
  }
  return out;
}

function normalize(isoPath: string): string {
  return isoPath.replace(/^\/+/, '');
}

export async function md5Lines(tree: string, excluded: Set<string>): Promise<string[]> {
  const files = listFiles(tree).filter((f) => !excluded.has(f));
  files.sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
  const lines: string[] = [];
  for (const f of files) lines.push(`${await hashFile(join(tree, f), 'md5')}  ./${f}\n`);
  return lines;
}

function listFiles(root: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(root, rel));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}
