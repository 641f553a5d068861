/** A pipeline step (title, optional skip reason, the work) and their run as one listr2 list, each step timed in the build log. */
import { Listr } from 'listr2';
import { listrOutputOptions } from '../output-listr.js';
import type { BuildLog } from '../build-log.js';
import type { Reporter } from './reporter.js';
import { stageStartLine, stageTimingLine } from './timing-log.js';

export interface Step {
  title: string;
  /** A reason to skip the step (shown instead of running it), or false. */
  skip?: () => string | false | Promise<string | false>;
  run: (task: Reporter) => unknown;
}

/**
 * One stage's result, written once by the stage that produces it and read by the ones after it. Reading it before it
 * is written is a bug in the stage list: it fails loudly instead of handing on undefined.
 */
export class Slot<T> {
  private written = false;
  private value: T | undefined;

  constructor(readonly name: string) {}

  set(value: T): void {
    if (this.written) throw new Error(`internal error: ${this.name} produced twice`);
    this.value = value;
    this.written = true;
  }

  /** The value, or undefined when its stage was skipped (only for slots whose readers can do without). */
  ifProduced(): T | undefined {
    return this.value;
  }

  get(): T {
    if (!this.written) throw new Error(`internal error: ${this.name} read before the stage that produces it ran`);
    return this.value as T;
  }
}

/** Runs the steps in order (listr2 renders them); the first failure stops the run and is thrown. */
export async function runSteps(steps: readonly Step[], log: BuildLog): Promise<void> {
  await new Listr(
    steps.map((s) => ({
      title: s.title,
      skip: s.skip,
      task: async (_ctx: unknown, task: Reporter) => {
        const t0 = performance.now();
        log.line(stageStartLine(s.title));
        try {
          await s.run(task);
        } finally {
          // Where a slow build spends its time, without a profiler.
          log.line(stageTimingLine(s.title, performance.now() - t0));
        }
      },
    })),
    {
      exitOnError: true,
      registerSignalListeners: false, // ours release mounts first (lifecycle.ts)
      renderer: 'default',
      fallbackRenderer: 'simple',
      // Progress goes to stderr; stdout carries only the result (output.ts).
      ...listrOutputOptions(),
    },
  ).run();
}
