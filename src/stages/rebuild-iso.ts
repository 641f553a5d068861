/** Stage: reads the ISO tree and its boot setup (IsoTree); writes the new ISO as *.partial next to its final name, with the base ISO's boot setup replayed. */
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bootCatalogPath, rebuildIso, xorrisoDate } from '../tools/xorriso.js';
import { progressReporter, type Reporter } from '../pipeline/reporter.js';
import type { BuildInputs } from '../context.js';
import type { IsoTree } from './extract-iso.js';

export async function rebuildIsoStage(ctx: BuildInputs, tree: IsoTree, task: Reporter): Promise<void> {
  const bootSetup = tree.bootSetup;
  // The replay creates the boot catalog itself; the extracted copy would clash with it.
  const catalog = bootCatalogPath(bootSetup);
  if (catalog) rmSync(join(ctx.work.tree, catalog), { force: true });
  mkdirSync(dirname(ctx.partialIso), { recursive: true });
  rmSync(ctx.partialIso, { force: true });
  ctx.resources.push('partial ISO', () => rmSync(ctx.partialIso, { force: true }));
  ctx.log.line('rebuild: xorriso writes the whole ISO from the extracted base tree and this build\'s changes (its overlay), replaying the base\'s boot setup');
  await rebuildIso({
    tree: ctx.work.tree,
    output: ctx.partialIso,
    bootSetup,
    volumeId: ctx.profile.volumeLabel,
    fileDate: xorrisoDate(ctx.epochSeconds),
    log: ctx.log,
    onProgress: progressReporter(task, 'xorriso'),
  });
}
