/**
 * Under CI=true, a file with a test whose needs() are not met fails before anything runs, naming what is missing:
 * CI must never go green by skipping. Outside CI such tests are skipped (needs.ts) and listed by skip-reporter.ts.
 */
import { beforeAll } from 'vitest';
import type { RunnerTask } from 'vitest';
import { IN_CI } from './needs.js';

function unmet(task: RunnerTask, out: string[]): string[] {
  if (task.meta.missing) out.push(`${task.name}: ${task.meta.missing}`);
  else if (task.type === 'suite') for (const child of task.tasks) unmet(child, out);
  return out;
}

if (IN_CI) {
  // `{}`: vitest reads the first parameter as a fixture pattern; the file suite comes second.
  beforeAll(({}, file) => {
    const problems = file.tasks.flatMap((t) => unmet(t, []));
    if (problems.length) throw new Error(`CI=true: a test that cannot run here fails instead of skipping:\n  ${problems.join('\n  ')}`);
  });
}
