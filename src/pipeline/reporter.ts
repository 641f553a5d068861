/** What a stage may tell the user while it runs: a title and a line of output (a listr2 task satisfies it; tests pass a plain object). */
export interface Reporter {
  title: string;
  output: string;
}

/** A reporter that only records, for running a stage in a test or outside listr2. */
export function recordingReporter(title = ''): Reporter {
  return { title, output: '' };
}

/** Progress for long steps: one line of output under the task, throttled so CI logs stay readable. */
export function progressReporter(task: Reporter, label: string): (percent: number, detail?: string) => void {
  let last = -10;
  return (percent, detail) => {
    const step = process.stdout.isTTY ? 1 : 10;
    if (percent < last + step && percent < 100) return;
    last = percent;
    task.output = `${label} ${Math.round(percent)}%${detail ? ` (${detail})` : ''}`;
  };
}
