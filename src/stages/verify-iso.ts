/**
 * Stage: reads the new *.partial ISO and its WrittenIso, the base's boot platforms, the layout and Md5Sums; produces the
 * VerifiedIso (its sha256, taken during the write).
 * It checks the new ISO with tools independent of the ones that wrote it, before it gets its final name:
 * the El Torito catalog has the base's boot platforms, every md5sum.txt line of a file this build wrote matches the
 * file read back from the ISO (the others have the base's size), and the rootfs squashfs in it carries the VERSION.
 */
import { changedImage, type RootfsLayout } from '../layout.js';
import { ExitCode, IsoBuildError, isIsoBuildError } from '../errors.js';
import { IsoImage } from '../image/iso9660.js';
import { checkIsoMd5sums } from '../image/md5sum.js';
import { openLayer } from '../image/rootfs.js';
import { withSource } from '../image/source.js';
import { listBootImages } from '../tools/xorriso.js';
import { VERSION_FILE } from '../product.js';
import { together } from '../lifecycle.js';
import { md5OfRange } from '../tools/digest.js';
import { progressReporter, type Reporter } from '../pipeline/reporter.js';
import type { BuildInputs } from '../context.js';
import type { Md5Sums } from './md5sum.js';
import type { WrittenIso } from './rebuild-iso.js';

export interface VerifiedIso {
  sha256: string;
}

export async function verifyIsoStage(ctx: BuildInputs, written: WrittenIso, basePlatforms: readonly string[], layout: RootfsLayout, md5sums: Md5Sums, task: Reporter): Promise<VerifiedIso> {
  // The ISO's sha256 was read from the file while xorriso wrote it (rebuild-iso.ts): not a second pass here.
  await verify(ctx, basePlatforms, layout, md5sums, task, ctx.partialIso);
  return { sha256: written.sha256 };
}

/** Boot records, md5sum.txt and VERSION, read back from the new ISO. */
async function verify(ctx: BuildInputs, basePlatforms: readonly string[], layout: RootfsLayout, md5sums: Md5Sums, task: Reporter, iso: string): Promise<void> {
  // xorriso reads the boot records while the md5s are checked here.
  const [bootImages, { checked, version }] = await together(listBootImages(iso, { log: ctx.log }), readBackFiles(ctx, layout, md5sums, task, iso));
  const platforms = [...new Set(bootImages.map((b) => b.platform))].sort();
  const missing = basePlatforms.filter((p) => !platforms.includes(p));
  if (platforms.length === 0 || missing.length) {
    throw verificationError(`the new ISO lacks boot records for ${missing.join(', ') || 'any platform'} (has: ${platforms.join(', ') || 'none'})`);
  }
  const squashfs = changedImage(layout);
  ctx.log.line(`verify: md5sum.txt ${checked} files OK (${checked - md5sums.copied.size} read back, ${md5sums.copied.size} copied from the base: size checked), ${squashfs}:${VERSION_FILE} = ${version} (read in-process)`);
  if (version !== ctx.version) {
    throw verificationError(`${VERSION_FILE} in the new ISO's ${squashfs} reads "${version}", expected "${ctx.version}"`);
  }
  task.title = `Verify the new ISO: boot ${platforms.join(' + ')}, md5sum.txt ${checked} files OK, VERSION ${version}`;
}

/**
 * md5sum.txt and VERSION, read back in place with the in-process readers (src/image): nothing is extracted, nothing
 * is mounted. Files the write copied verbatim from the base are checked for presence and size (their md5 lines are
 * the base's and the ISO's sha256 covers their bytes); the files this build wrote are hashed, the largest by
 * dd | openssl on the other core.
 */
async function readBackFiles(ctx: BuildInputs, layout: RootfsLayout, md5sums: Md5Sums, task: Reporter, iso: string): Promise<{ checked: number; version: string }> {
  const report = progressReporter(task, 'md5sum.txt');
  const squashfs = changedImage(layout);
  return readBack(iso, async (image) => {
    const md5 = await checkIsoMd5sums(image, {
      copied: md5sums.copied,
      onProgress: (n, total) => report((n / total) * 100, `${n}/${total} files`),
      // the other core is free: the ISO's sha256 was taken during the write
      offload: { rangeMd5: (offset, length) => md5OfRange(iso, offset, length, { log: ctx.log }), otherCoreBytes: 0 },
    });
    if (!md5.present) throw verificationError('the new ISO has no md5sum.txt');
    const [problem] = md5.problems;
    if (problem) throw verificationError(problem.message);
    const fs = await openLayer(image, `/${squashfs.replace(/^\/+/, '')}`);
    const file = await fs.lookup(VERSION_FILE, { follow: true });
    if (!file || file.type !== 'file') throw verificationError(`${VERSION_FILE} is missing from the new ISO's ${squashfs}`);
    return { checked: md5.ok, version: (await fs.readAll(file, 4096)).toString().trim() };
  });
}

/** Opens the new ISO with the in-process reader; an unreadable structure is a verification failure of the build. */
async function readBack<T>(iso: string, fn: (image: IsoImage) => Promise<T>): Promise<T> {
  try {
    return await withSource(iso, async (source) => fn(await IsoImage.open(source)));
  } catch (err) {
    if (isIsoBuildError(err) && err.exitCode !== ExitCode.Verification) throw verificationError(`the new ISO cannot be read back: ${err.message}`);
    throw err;
  }
}

function verificationError(message: string): IsoBuildError {
  return new IsoBuildError(message, { exitCode: ExitCode.Verification });
}
