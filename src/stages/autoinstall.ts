/**
 * Stage: reads the profile's autoinstall templates and the version; writes them rendered and validated
 * (src/profile/autoinstall.ts) as /nocloud/user-data and /nocloud/meta-data (and /autoinstall.yaml for Ubuntu 24.04+)
 * into the ISO tree. Runs before md5sum.txt is regenerated, so the new files are listed there.
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderAutoinstall } from '../profile/autoinstall.js';
import type { BuildInputs } from '../context.js';
import type { Reporter } from '../pipeline/reporter.js';

const NOCLOUD_DIR = 'nocloud';

export function autoinstallStage(ctx: BuildInputs, task: Reporter): void {
  const rendered = renderAutoinstall(ctx.profile, ctx.version);
  for (const w of rendered.warnings) ctx.log.line(`autoinstall: warning: ${w}`);
  const dir = join(ctx.work.tree, NOCLOUD_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const written = [
    writeTreeFile(join(dir, 'user-data'), rendered.userData),
    writeTreeFile(join(dir, 'meta-data'), rendered.metaData),
  ];
  if (rendered.writeRootYaml) written.push(writeTreeFile(join(ctx.work.tree, 'autoinstall.yaml'), rendered.userData));
  for (const file of written) ctx.log.line(`autoinstall: wrote ${file}`);
  task.title = `Write autoinstall: /${NOCLOUD_DIR}/user-data, meta-data${rendered.writeRootYaml ? ', /autoinstall.yaml' : ''}`;
}

function writeTreeFile(path: string, content: string): string {
  rmSync(path, { force: true });
  writeFileSync(path, content);
  chmodSync(path, 0o644);
  return path;
}
