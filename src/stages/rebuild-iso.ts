/**
 * Stage: reads the VerifiedBase and the ISO tree's edits (the overlay's upper dir against the extracted base); writes
 * the new ISO as *.partial next to its final name: xorriso's modify mode over the base ISO, the edits applied, the
 * base's boot setup replayed.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { modifyIso, xorrisoDate } from '../tools/xorriso.js';
import { isoTreeChanges } from '../iso-tree-changes.js';
import { progressReporter, type Reporter } from '../pipeline/reporter.js';
import type { BuildInputs } from '../context.js';
import type { IsoTree } from './extract-iso.js';
import type { VerifiedBase } from './verify-base.js';

export async function rebuildIsoStage(ctx: BuildInputs, base: VerifiedBase, tree: IsoTree, task: Reporter): Promise<void> {
  const changes = isoTreeChanges({ base: tree.baseTree, changes: ctx.work.treeChanges, merged: ctx.work.tree });
  mkdirSync(dirname(ctx.partialIso), { recursive: true });
  rmSync(ctx.partialIso, { force: true });
  ctx.resources.push('partial ISO', () => rmSync(ctx.partialIso, { force: true }));
  ctx.log.line(
    `write: xorriso modify mode over the base ISO, unchanged files copied from it as they are; ${changes.mapped.length} path(s) mapped from this build's edits, ${changes.removed.length} removed; the base's boot setup replayed`,
  );
  for (const p of changes.removed) ctx.log.line(`  remove /${p}`);
  for (const m of changes.mapped) ctx.log.line(`  map /${m.iso}`);
  await modifyIso({
    base: base.path,
    output: ctx.partialIso,
    bootSetup: tree.bootSetup,
    volumeId: ctx.profile.volumeLabel,
    fileDate: xorrisoDate(ctx.epochSeconds),
    changes,
    log: ctx.log,
    onProgress: progressReporter(task, 'xorriso'),
  });
  task.title = `Write the ISO over the base (${changes.mapped.length} path(s) changed, ${changes.removed.length} removed; boot setup replayed)`;
}
