/**
 * Stage: reads the profile's autoinstall templates and the version; writes them rendered and validated
 * (src/profile/autoinstall.ts) as /nocloud/user-data and /nocloud/meta-data (and /autoinstall.yaml for Ubuntu 24.04+)
 * into the ISO tree. Runs before md5sum.txt is regenerated, so the new files are listed there.
 */
import { chmodSync, rmSync } from 'node:fs';
import { posix } from 'node:path';
import { ISO_TREE, resolveBeneath, writeFileBeneath } from '../safe-path.js';
import { renderAutoinstall } from '../profile/autoinstall.js';
import type { BuildInputs } from '../context.js';
import type { Reporter } from '../pipeline/reporter.js';

const NOCLOUD_DIR = 'nocloud';

export function autoinstallStage(ctx: BuildInputs, task: Reporter): void {
  const rendered = renderAutoinstall(ctx.profile, ctx.version);
  for (const w of rendered.warnings) ctx.log.line(`autoinstall: warning: ${w}`);
  const tree = ctx.work.tree;
  const written = [
    writeTreeFile(tree, posix.join(NOCLOUD_DIR, 'user-data'), rendered.userData),
    writeTreeFile(tree, posix.join(NOCLOUD_DIR, 'meta-data'), rendered.metaData),
  ];
  if (rendered.writeRootYaml) written.push(writeTreeFile(tree, 'autoinstall.yaml', rendered.userData));
  for (const file of written) ctx.log.line(`autoinstall: wrote ${file}`);
  task.title = `Write autoinstall: /${NOCLOUD_DIR}/user-data, meta-data${rendered.writeRootYaml ? ', /autoinstall.yaml' : ''}`;
}

/** Replaces the entry itself (never writes through a link), in directories reached without leaving the tree. */
function writeTreeFile(tree: string, rel: string, content: string): string {
  rmSync(resolveBeneath(tree, rel, { followLast: false, what: ISO_TREE }), { force: true });
  const path = writeFileBeneath(tree, rel, content, { what: ISO_TREE });
  chmodSync(path, 0o644);
  return path;
}
