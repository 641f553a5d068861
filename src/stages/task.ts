/** The shape of a stage: one listr2 task over the build context (its title is given where the pipeline lists it). */
import type { ListrTask, ListrTaskWrapper, ListrDefaultRenderer, ListrSimpleRenderer } from 'listr2';
import type { BuildContext } from '../context.js';

export type StageTask = ListrTask<BuildContext, ListrDefaultRenderer, ListrSimpleRenderer>;
export type StageWrapper = ListrTaskWrapper<BuildContext, ListrDefaultRenderer, ListrSimpleRenderer>;

/** Progress for long steps: one line of output under the task, throttled so CI logs stay readable. */
export function progressReporter(task: StageWrapper, label: string): (percent: number, detail?: string) => void {
  let last = -10;
  return (percent, detail) => {
    const step = process.stdout.isTTY ? 1 : 10;
    if (percent < last + step && percent < 100) return;
    last = percent;
    task.output = `${label} ${Math.round(percent)}%${detail ? ` (${detail})` : ''}`;
  };
}
