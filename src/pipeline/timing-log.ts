/**
 * The build log's timing lines, written and read in one place: `stage "TITLE" starts` before and `stage "TITLE" took
 * N s` after each step (steps.ts) and
 * `pipeline starts|done N s after the process started` around the run (run.ts). The build's --json result
 * (build-result.ts) and report.html (release/report-data.ts) read them back.
 */

export interface StageTiming {
  title: string;
  /** Seconds since the pipeline started (stages run one after the other). */
  start: number;
  seconds: number;
}

export interface Timeline {
  stages: StageTiming[];
  /** Wall time of the whole pipeline, when the log has its `pipeline done` line. */
  totalSeconds?: number;
}

const STAGE_LINE = /^stage "(.*)" took (\d+(?:\.\d+)?) s$/;
const PIPELINE_LINE = /^pipeline (starts|done) (\d+(?:\.\d+)?) s after the process started$/;

export function stageTimingLine(title: string, milliseconds: number): string {
  return `stage "${title}" took ${(milliseconds / 1000).toFixed(3)} s`;
}

/** Written when a step begins: a test or a watcher can time a signal into a stage (the fault-matrix suite does). */
export function stageStartLine(title: string): string {
  return `stage "${title}" starts`;
}

export function pipelineLine(event: 'starts' | 'done'): string {
  return `pipeline ${event} ${(performance.now() / 1000).toFixed(3)} s after the process started`;
}

/** The stage timeline of a build log: its stage lines, in order, and the pipeline's start and end. */
export function parseTimeline(log: string): Timeline {
  const stages: StageTiming[] = [];
  let start: number | undefined;
  let done: number | undefined;
  let at = 0;
  for (const line of log.split('\n')) {
    const stage = STAGE_LINE.exec(line);
    if (stage) {
      const seconds = Number(stage[2]);
      stages.push({ title: stage[1]!, start: at, seconds });
      at += seconds;
      continue;
    }
    const pipeline = PIPELINE_LINE.exec(line);
    if (pipeline?.[1] === 'starts') start = Number(pipeline[2]);
    else if (pipeline?.[1] === 'done') done = Number(pipeline[2]);
  }
  return { stages, totalSeconds: start !== undefined && done !== undefined ? Math.max(0, done - start) : undefined };
}
