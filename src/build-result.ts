/**
 * What `iso-build VERSION` prints when it is done: the ISO, its sha256 and the log for a person, or (with --json) the
 * BuildResult below for a script (shape documented in docs/cli-json.md). Stage timings and warnings are read from the
 * build log, which records both as they happen.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { OUTPUT_LOCK } from './release/staging.js';
import { result, resultJson, warning } from './output.js';
import { parseTimeline } from './pipeline/timing-log.js';

export interface BuildResult {
  version: string;
  profile: string;
  iso: string;
  sha256: string;
  bytes: number;
  outputDir: string;
  /** Every file of the release directory (the ISO, SHA256SUMS, build-manifest.json, ...), absolute, sorted. */
  artifacts: string[];
  log: string;
  seconds: number;
  stages: { title: string; seconds: number }[];
  warnings: string[];
  /** With --check-reproducible: a second build gave the same sha256. */
  reproducible?: boolean;
}

/** The log's warning convention: `warning: ...`, or `<what>: warning: ...`. */
const WARNING_LINE = /^(?:[\w .-]+: )?warning: /;

function readBuildLog(text: string): Pick<BuildResult, 'stages' | 'warnings'> {
  return {
    stages: parseTimeline(text).stages.map(({ title, seconds }) => ({ title, seconds })),
    warnings: text.split('\n').filter((line) => WARNING_LINE.test(line)),
  };
}

export interface FinishedBuild {
  version: string;
  profileFile: string;
  outputIso: string;
  outputDir: string;
  isoSha256: string;
  logPath: string;
  seconds: number;
  reproducible?: boolean;
}

function buildResult(b: FinishedBuild): BuildResult {
  return {
    version: b.version,
    profile: b.profileFile,
    iso: b.outputIso,
    sha256: b.isoSha256,
    bytes: statSync(b.outputIso).size,
    outputDir: b.outputDir,
    // the build's own lock on the directory (held until the process exits) is not part of the release
    artifacts: readdirSync(b.outputDir).filter((name) => !name.startsWith(OUTPUT_LOCK)).sort().map((name) => join(b.outputDir, name)),
    log: b.logPath,
    seconds: Number(b.seconds.toFixed(3)),
    ...readBuildLog(readFileSync(b.logPath, 'utf8')),
    ...(b.reproducible === undefined ? {} : { reproducible: b.reproducible }),
  };
}

/** Prints the result of a finished build: warnings on stderr, the result on stdout. */
export function reportBuild(b: FinishedBuild, json: boolean): void {
  const r = buildResult(b);
  for (const w of r.warnings) warning(w);
  if (json) {
    resultJson(r);
    return;
  }
  const how = r.reproducible ? `reproducible: a second build in another work directory gave the same sha256 (${r.seconds.toFixed(1)} s for both)` : `built in ${r.seconds.toFixed(1)} s; log: ${r.log}`;
  result(`${r.iso}\n  sha256 ${r.sha256}\n  ${how}`);
}
