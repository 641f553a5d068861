/**
 * Stage: reads the VerifiedBase and the ISO tree's edits (the overlay's upper dir against the extracted base); writes
 * the new ISO as *.partial next to its final name; produces the WrittenIso: its sha256, computed from the bytes as
 * they are written (for the base's bytes before the insertion point, resumed from the state a previous build in this
 * work directory saved, when this one patches the same sectors: HeadHashMemo in image/iso-in-place.ts).
 *
 * Two writers, chosen per build and named in the build log:
 * - in place (image/iso-in-place.ts, the default): the base's bytes stay where they are, copied by the kernel; the
 *   edits are inserted behind the ISO 9660 data and the structures that point at moved things are patched.
 * - xorriso's modify mode over the base (tools/xorriso.ts), when the in-place writer does not handle the base or
 *   the edits (the log says why: e.g. a replaced file so large that leaving its old bytes would bloat the image, a
 *   symlink among the edits, a changed boot image), or when ISO_BUILD_ISO_WRITER=xorriso asks for it.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { modifyIso, xorrisoDate } from '../tools/xorriso.js';
import { expandChanges, isoTreeChanges, type IsoTreeChanges } from '../iso-tree-changes.js';
import { headKey, planInPlace, writeInPlace, type BaseCopy, type InPlacePlan } from '../image/iso-in-place.js';
import { headHashMemo } from '../stage-cache.js';
import { sha256StateUnavailable } from '../sha256-state.js';
import { hashGrowingFile } from '../file-hash.js';
import { progressReporter, type Reporter } from '../pipeline/reporter.js';
import { ISO_WRITER_ENV, isoWriterChoice } from '../iso-writer.js';
import type { BuildInputs } from '../context.js';
import type { IsoTree } from './extract-iso.js';
import type { VerifiedBase } from './verify-base.js';
import type { RepackedRootfs } from './repack-rootfs.js';

type GrownFromBase = NonNullable<RepackedRootfs['grownFromBase']>;

export interface WrittenIso {
  /** sha256 of the *.partial file, from the bytes as they were written. */
  sha256: string;
  writer: 'in-place' | 'xorriso';
}

export async function rebuildIsoStage(ctx: BuildInputs, base: VerifiedBase, tree: IsoTree, started: BaseCopy | undefined, grown: GrownFromBase | undefined, task: Reporter): Promise<WrittenIso> {
  const changes = isoTreeChanges({ base: tree.baseTree, changes: ctx.work.treeChanges, merged: ctx.work.tree, leftDirs: new Set(tree.leftInBase?.dirs) });
  mkdirSync(dirname(ctx.partialIso), { recursive: true });
  if (!started) rmSync(ctx.partialIso, { force: true });
  ctx.resources.push('partial ISO', () => rmSync(ctx.partialIso, { force: true }));
  for (const p of changes.removed) ctx.log.line(`  remove /${p}`);
  for (const m of changes.mapped) ctx.log.line(`  map /${m.iso}`);
  const summary = `${changes.mapped.length} path(s) changed, ${changes.removed.length} removed`;

  const choice = chooseWriter(ctx, base, changes, grown);
  if ('plan' in choice) {
    const p = choice.plan;
    ctx.log.line(
      `write: in place over the base ISO: its ${p.at} bytes of ISO 9660 data stay where they are (copied by the kernel), ${p.grow} bytes inserted behind them (${p.stats.files} file(s), the directories above them in ${p.stats.trees} tree(s), path tables), ${p.tail.length} bytes behind the data (appended partitions, backup GPT) moved back, ${p.patches.size} sector(s) patched; ${p.deadBytes} bytes of replaced files left unreferenced`,
    );
    for (const k of p.kept) {
      ctx.log.line(`write: /${k.iso} keeps its first ${k.bytes} bytes where the base has them (the base's squashfs with this build's changes merged in behind its data: a second extent holds the rest, its superblock sector is patched)`);
    }
    const { sha256, headFromMemo } = await writeInPlace(p, ctx.partialIso, progressReporter(task, 'write'), started, headHashMemo(ctx.work.root, headKey(p, base.sha256)));
    ctx.log.line(
      headFromMemo
        ? `write: the sha256 state after the first ${headFromMemo} bytes is the one an earlier build in this work directory saved (same base, same patched sectors): only the ${p.size - headFromMemo} bytes after them were hashed`
        : `write: hashed all ${p.size} bytes${sha256StateUnavailable() ? ` (the sha256 state cannot be saved for the next build: ${sha256StateUnavailable()})` : ''}`,
    );
    task.title = `Write the ISO in place over the base (${summary}; boot records kept)`;
    return { sha256, writer: 'in-place' };
  }
  if (started) {
    // Begun ahead for the in-place writer, which declined: xorriso writes the file itself.
    await started.done.catch(() => undefined);
    rmSync(ctx.partialIso, { force: true });
    ctx.log.line('write: the copy of the base begun ahead is dropped');
  }
  ctx.log.line(`write: xorriso modify mode over the base ISO (${choice.why}), unchanged files copied from it as they are; ${summary}; the base's boot setup replayed`);
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
  task.title = `Write the ISO over the base with xorriso (${summary}; boot setup replayed)`;
  return { sha256, writer: 'xorriso' };
}

function chooseWriter(ctx: BuildInputs, base: VerifiedBase, changes: IsoTreeChanges, grown: GrownFromBase | undefined): { plan: InPlacePlan } | { why: string } {
  if (isoWriterChoice() === 'xorriso') return { why: `${ISO_WRITER_ENV}=xorriso` };
  const expanded = expandChanges(changes);
  if ('reason' in expanded) return { why: `the in-place writer cannot: ${expanded.reason}` };
  // The base's squashfs with the changes merged in starts with the base file's own bytes: they stay where they are.
  const files = expanded.files.map((f) => (grown && f.iso === grown.iso ? { ...f, keep: grown.keptBytes } : f));
  const plan = planInPlace({ base: base.path, changes: { ...expanded, files }, volumeId: ctx.profile.volumeLabel, epochSeconds: ctx.epochSeconds });
  if ('reason' in plan) return { why: `the in-place writer cannot: ${plan.reason}` };
  return { plan };
}
