/**
 * Stage: reads the VerifiedBase and the ISO tree's edits (the overlay's upper dir against the extracted base); writes
 * the new ISO as *.partial next to its final name: xorriso's modify mode over the base ISO, the edits applied, the
 * base's boot setup replayed; produces the WrittenIso: its sha256, read from the file as xorriso appends to it.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { modifyIso, xorrisoDate } from '../tools/xorriso.js';
import { isoTreeChanges } from '../iso-tree-changes.js';
import { hashGrowingFile } from '../file-hash.js';
import { progressReporter, type Reporter } from '../pipeline/reporter.js';
import type { BuildInputs } from '../context.js';
import type { IsoTree } from './extract-iso.js';
import type { VerifiedBase } from './verify-base.js';

export interface WrittenIso {
  /** sha256 of the *.partial file, read back while it was written. */
  sha256: string;
}

export async function rebuildIsoStage(ctx: BuildInputs, base: VerifiedBase, tree: IsoTree, task: Reporter): Promise<WrittenIso> {
  const changes = isoTreeChanges({ base: tree.baseTree, changes: ctx.work.treeChanges, merged: ctx.work.tree, leftDirs: new Set(tree.leftInBase?.dirs) });
  mkdirSync(dirname(ctx.partialIso), { recursive: true });
  rmSync(ctx.partialIso, { force: true });
  ctx.resources.push('partial ISO', () => rmSync(ctx.partialIso, { force: true }));
  ctx.log.line(
    `write: xorriso modify mode over the base ISO, unchanged files copied from it as they are; ${changes.mapped.length} path(s) mapped from this build's edits, ${changes.removed.length} removed; the base's boot setup replayed`,
  );
  for (const p of changes.removed) ctx.log.line(`  remove /${p}`);
  for (const m of changes.mapped) ctx.log.line(`  map /${m.iso}`);
  const writing = modifyIso({
    base: base.path,
    output: ctx.partialIso,
    bootSetup: tree.bootSetup,
    volumeId: ctx.profile.volumeLabel,
    fileDate: xorrisoDate(ctx.epochSeconds),
    changes,
    log: ctx.log,
    onProgress: progressReporter(task, 'xorriso'),
  });
  // The sha256 for SHA256SUMS, on the other core while xorriso writes (through a pipe: the file only grows).
  const sha256 = await hashGrowingFile(ctx.partialIso, 'sha256', writing);
  task.title = `Write the ISO over the base (${changes.mapped.length} path(s) changed, ${changes.removed.length} removed; boot setup replayed)`;
  return { sha256 };
}
