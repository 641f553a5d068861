/**
 * Stage: reads the VerifiedBase and the layout; produces the BaseCopy: the kernel starts copying the base ISO to the
 * new ISO's *.partial path on a pool thread, so the copy runs on the other core while the stages up to the write
 * work (they mostly wait on tools), and the in-place writer (image/iso-in-place.ts) finds most of it done and only
 * hashes. Only where the in-place writer is expected: a new layer (`layer`) leaves every base file where it is, and a
 * squashfs merged into the base's keeps the base's blocks, while a squashfs packed anew is replaced and (its old bytes
 * being far over 1% of the base) written by xorriso.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { startBaseCopy, type BaseCopy } from '../image/iso-in-place.js';
import { ISO_WRITER_ENV, isoWriterChoice } from '../iso-writer.js';
import type { BuildInputs } from '../context.js';
import type { RootfsLayout } from '../layout.js';
import type { Reporter } from '../pipeline/reporter.js';
import type { VerifiedBase } from './verify-base.js';
import { hooksSkip } from './skips.js';

/** Why the copy is not started ahead, or false. */
export function copyBaseSkip(ctx: Pick<BuildInputs, 'profile'>, layout: RootfsLayout): string | false {
  if (isoWriterChoice() === 'xorriso') return `${ISO_WRITER_ENV}=xorriso`;
  if (layout.strategy === 'layer') return false;
  // Merged into the base's squashfs, the image keeps the base's blocks (rebuild-iso.ts), unless a pre-repack hook
  // may have replaced the file the merge reads.
  if (layout.mergeIntoBase && hooksSkip(ctx, 'pre-repack') !== false) return false;
  return 'the repacked squashfs is written by xorriso';
}

export function copyBaseStage(ctx: BuildInputs, base: VerifiedBase, task: Reporter): BaseCopy {
  mkdirSync(dirname(ctx.partialIso), { recursive: true });
  rmSync(ctx.partialIso, { force: true });
  const copy = startBaseCopy(base.path, ctx.partialIso);
  // A failed build waits for the copy before its *.partial is removed (the copy would otherwise recreate it).
  ctx.resources.push('copy of the base ISO', async () => {
    await copy.done.catch(() => undefined);
    rmSync(ctx.partialIso, { force: true });
  });
  ctx.log.line(`copy: the base ISO is being copied to ${ctx.partialIso} by the kernel while the build goes on (the in-place writer's starting point)`);
  task.title = 'Copy the base ISO into the new ISO (in the background)';
  return copy;
}
