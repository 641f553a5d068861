/**
 * Prints, at the end of a run, every test that needs() skipped and why (the default reporter shows skips only as a
 * count): a non-root `npm test` says what went untested instead of looking green.
 */
import { relative } from 'node:path';
import type { Reporter, TestCase, TestModule, TestSuite, Vitest } from 'vitest/node';
import { IN_CI } from './needs.js';

interface Skipped {
  file: string;
  title: string;
  count: number;
  reason: string;
}

export default class SkipReporter implements Reporter {
  private root = process.cwd();

  onInit(ctx: Vitest): void {
    this.root = ctx.config.root;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (IN_CI) return; // there the files failed, naming what is missing (needs-setup.ts)
    const groups = new Map<string, Skipped>();
    for (const module of modules) {
      for (const test of module.children.allTests('skipped')) {
        const reason = test.meta().missing;
        if (!reason) continue;
        const title = outermostSkipped(test);
        const key = `${module.moduleId}\0${title}\0${reason}`;
        const group = groups.get(key) ?? { file: relative(this.root, module.moduleId), title, count: 0, reason };
        group.count++;
        groups.set(key, group);
      }
    }
    if (groups.size === 0) return;
    const total = [...groups.values()].reduce((n, g) => n + g.count, 0);
    const lines = [`\n${total} test(s) skipped because this machine lacks what they need (under CI=true they fail):`];
    for (const g of groups.values()) lines.push(`  ${g.file} > ${g.title} (${g.count}): ${g.reason}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

/** The name of the outermost suite (or the test) that carries the reason: where needs() was written. */
function outermostSkipped(test: TestCase): string {
  let named: TestCase | TestSuite = test;
  for (let p = test.parent; p.type === 'suite'; p = p.parent) if (p.meta().missing === test.meta().missing) named = p;
  return named.fullName;
}
