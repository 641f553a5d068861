/**
 * Stage: check the new ISO with tools independent of the ones that wrote it, before it gets its final name:
 * the El Torito catalog has the base's boot platforms, every md5sum.txt line matches the file read back
 * from the ISO, and the rootfs squashfs in it carries the VERSION.
 */
import { readFileSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { changedImage } from '../context.js';
import { ExitCode, IsoBuildError } from '../errors.js';
import { catFile } from '../tools/squashfs.js';
import { extractIsoTree, listBootImages } from '../tools/xorriso.js';
import { md5File } from './md5sum.js';
import { PRODUCT_DIR } from './product-files.js';
import { progressReporter, type StageTask } from './task.js';

export const verifyIsoStage: StageTask = {
  title: 'Verify the new ISO',
  task: async (ctx, task) => {
    const iso = ctx.partialIso;
    const platforms = [...new Set((await listBootImages(iso, { log: ctx.log })).map((b) => b.platform))].sort();
    const missing = (ctx.basePlatforms ?? []).filter((p) => !platforms.includes(p));
    if (platforms.length === 0 || missing.length) {
      throw verificationError(`the new ISO lacks boot records for ${missing.join(', ') || 'any platform'} (has: ${platforms.join(', ') || 'none'})`);
    }
    task.output = `boot records: ${platforms.join(' + ')}`;

    const readBack = ctx.work.verify;
    rmSync(readBack, { recursive: true, force: true });
    mkdirSync(readBack, { recursive: true });
    ctx.resources.push('verify dir', () => rmSync(readBack, { recursive: true, force: true }));
    await extractIsoTree(iso, readBack, { log: ctx.log });
    const report = progressReporter(task, 'md5sum.txt');
    const checked = await checkMd5sumTxt(readBack, (n, total) => report((n / total) * 100, `${n}/${total} files`));

    const version = (await catFile(join(readBack, changedImage(ctx.layout!)), `${PRODUCT_DIR}/VERSION`, { log: ctx.log })).toString().trim();
    if (version !== ctx.version) {
      throw verificationError(`${PRODUCT_DIR}/VERSION in the new ISO's ${changedImage(ctx.layout!)} reads "${version}", expected "${ctx.version}"`);
    }
    rmSync(readBack, { recursive: true, force: true });
    task.title = `Verify the new ISO: boot ${platforms.join(' + ')}, md5sum.txt ${checked} files OK, VERSION ${version}`;
  },
};

/** Returns the number of files checked; throws naming the first mismatching or missing file. */
export async function checkMd5sumTxt(tree: string, onProgress?: (n: number, total: number) => void): Promise<number> {
  const lines = readFileSync(join(tree, 'md5sum.txt'), 'utf8').split('\n').filter(Boolean);
  let n = 0;
  for (const line of lines) {
    const m = /^([0-9a-f]{32}) [ *]\.\/(.+)$/.exec(line);
    if (!m) throw verificationError(`md5sum.txt has a malformed line: ${line}`);
    let actual: string;
    try {
      actual = await md5File(join(tree, m[2]!));
    } catch {
      throw verificationError(`md5sum.txt lists ./${m[2]}, which is not in the ISO`);
    }
    if (actual !== m[1]) throw verificationError(`md5sum.txt mismatch for ./${m[2]}: listed ${m[1]}, ISO has ${actual}`);
    onProgress?.(++n, lines.length);
  }
  return n;
}

function verificationError(message: string): IsoBuildError {
  return new IsoBuildError(message, { exitCode: ExitCode.Verification });
}
