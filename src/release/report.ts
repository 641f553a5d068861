/**
 * release/<version>/report.html: written by the build's publish stage and redrawn by `iso-build report DIR`.
 * It is not listed in SHA256SUMS: it is a view of files that are (the ISO, build-manifest.json) plus the build log's
 * timings, and redrawing it (a newer iso-build, a previous release that appeared later) must not break
 * `sha256sum -c SHA256SUMS` or the signature. For the same reason scripts/publish-assets does not publish it; the
 * release workflow keeps it with the uploaded release directory.
 */
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { usageError } from '../errors.js';
import { sha256File } from '../file-hash.js';
import { readManifest, type BuildManifest } from './manifest.js';
import { comparedToPrevious, type PreviousRelease } from './notes.js';
import { collectReportData } from './report-data.js';
import { parseTimeline, type Timeline } from '../pipeline/timing-log.js';
import { embeddedReportData, renderReport } from './report-html.js';
import { MANIFEST_NAME, REPORT_NAME } from '../product.js';

export interface WriteReportInput {
  releaseDir: string;
  isoPath: string;
  isoName: string;
  isoSha256: string;
  manifest: BuildManifest;
  previous?: PreviousRelease;
  timeline: Timeline;
  /** Write the page here, as it is (publish stages it as report.html.partial); default: DIR/report.html. */
  stagedPath?: string;
}

/** Writes DIR/report.html (through a temporary file: a reader never sees half a page); returns its path. */
export async function writeReport(input: WriteReportInput): Promise<string> {
  const html = renderReport(await collectReportData(input));
  if (input.stagedPath !== undefined) {
    writeFileSync(input.stagedPath, html, { mode: 0o644, flag: 'wx' });
    return input.stagedPath;
  }
  const path = join(input.releaseDir, REPORT_NAME);
  writeFileSync(`${path}.partial`, html, { mode: 0o644 });
  renameSync(`${path}.partial`, path);
  return path;
}

export interface RegenerateOptions {
  /** A build log to take the stage timeline from; default: the timeline in the existing report.html. */
  log?: string;
}

/** `iso-build report DIR`: the report of a release directory, from its ISO and manifest (and the timeline). */
export async function regenerateReport(dir: string, opts: RegenerateOptions = {}): Promise<{ path: string; timelineFrom: string }> {
  const manifest = readManifest(dir);
  if (!manifest) throw usageError(`${dir} has no readable ${MANIFEST_NAME}`, 'give a release directory written by iso-build build');
  if (typeof manifest.iso?.name !== 'string') throw usageError(`${join(dir, MANIFEST_NAME)} names no ISO`, 'give a release directory written by iso-build build');
  const isoPath = join(dir, manifest.iso.name);
  if (!existsSync(isoPath)) {
    const isos = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.iso')) : [];
    throw usageError(`${isoPath} does not exist`, isos.length ? `the directory has ${isos.join(', ')}; ${MANIFEST_NAME} names ${manifest.iso.name}` : undefined);
  }
  let timeline: Timeline = { stages: [] };
  let timelineFrom = 'none (no build log given and no earlier report)';
  if (opts.log !== undefined) {
    if (!existsSync(opts.log)) throw usageError(`build log ${opts.log} does not exist`);
    timeline = parseTimeline(readFileSync(opts.log, 'utf8'));
    timelineFrom = opts.log;
  } else {
    const earlier = existsSync(join(dir, REPORT_NAME)) ? embeddedReportData(readFileSync(join(dir, REPORT_NAME), 'utf8')) : undefined;
    if (earlier?.timeline) {
      timeline = earlier.timeline;
      timelineFrom = `the earlier ${REPORT_NAME}`;
    }
  }
  const path = await writeReport({ releaseDir: dir, isoPath, isoName: manifest.iso.name, isoSha256: await sha256File(isoPath), manifest, previous: await comparedToPrevious(dir, manifest), timeline });
  return { path, timelineFrom };
}
