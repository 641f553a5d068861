/**
 * mtools: read and replace files inside a FAT image (the El Torito EFI image) without mounting it. A replaced file
 * is written in place (`mcopy -o`), so the image keeps its size; the image is never reformatted.
 */
import { statSync } from 'node:fs';
import { IsoBuildError } from '../errors.js';
import { run } from './process.js';
import type { BuildLog } from '../build-log.js';

// mtools refuses images whose geometry does not look like a floppy or disk unless told not to check
const ENV = { MTOOLS_SKIP_CHECK: '1' };

/** Every file in the image, as paths relative to its root (`EFI/boot/bootx64.efi`). */
export async function listFatFiles(image: string, log?: BuildLog): Promise<string[]> {
  const { stdout } = await run('mdir', ['-/', '-b', '-i', image, '::'], { env: ENV, log, what: `mdir of ${image}` });
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('::/') && !l.endsWith('/'))
    .map((l) => l.slice(3));
}

/** The file's bytes as text, or undefined when the image has no such file. */
export async function readFatFile(image: string, path: string, log?: BuildLog): Promise<string | undefined> {
  const r = await run('mtype', ['-i', image, `::/${path}`], { env: ENV, log, okExitCodes: [1], what: `mtype of ${path} in ${image}` });
  return r.exitCode === 0 ? r.stdout : undefined;
}

/** Replaces a file in the image; fails (rather than growing the image) when it does not fit. */
export async function replaceFatFile(image: string, path: string, text: string, log?: BuildLog): Promise<void> {
  const size = statSync(image).size;
  await run('mcopy', ['-o', '-i', image, '-', `::/${path}`], { env: ENV, input: text, log, what: `mcopy of ${path} into ${image}` });
  if (statSync(image).size !== size) {
    throw new IsoBuildError(`mcopy changed the size of ${image} (${size} -> ${statSync(image).size} bytes)`, {
      hint: 'the El Torito EFI image must keep its size; this is a bug in iso-build or mtools',
    });
  }
  const back = await readFatFile(image, path, log);
  if (back !== text) throw new IsoBuildError(`${path} in ${image} does not read back as written`, { hint: 'the FAT image may be full or damaged' });
}
