/** `iso-build report DIR`: redraw DIR/report.html from the release directory (and a build log, for the timeline). */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { usageError } from '../errors.js';
import { result } from '../output.js';
import { regenerateReport } from '../release/report.js';

export interface ReportOptions {
  log?: string;
}

export async function reportCommand(dir: string, opts: ReportOptions): Promise<number> {
  const releaseDir = resolve(dir);
  if (!existsSync(releaseDir) || !statSync(releaseDir).isDirectory()) throw usageError(`${dir} is not a directory`, 'give a release directory such as release/v1.0.0');
  const { path, timelineFrom } = await regenerateReport(releaseDir, { log: opts.log === undefined ? undefined : resolve(opts.log) });
  result(`${path}\n  stage timeline from ${timelineFrom}`);
  return 0;
}
