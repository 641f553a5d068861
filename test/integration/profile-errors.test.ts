/**
 * Hostile or careless profiles through the CLI (#13): `profile validate` and a build both answer with one `error:` line,
 * a hint and exit 2; no stack trace, no "internal error". The parsing itself is unit-tested in profile-compose.test.ts.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../support/cli.js';

function expectOneLineUsageError(res: ReturnType<typeof runCli>, message: RegExp): void {
  expect(res.code).toBe(2);
  const lines = res.stderr.trim().split('\n');
  const at = lines.findIndex((l) => l.startsWith('error: '));
  expect(at, res.stderr).toBeGreaterThanOrEqual(0);
  expect(lines[at]).toMatch(message);
  expect(lines.slice(at + 1).every((l) => l.startsWith('hint: '))).toBe(true);
  expect(res.stderr).not.toMatch(/^\s+at |internal error/m);
}

/** Eight levels of nine aliases each: 9^8 values once expanded ("billion laughs"). */
function aliasBomb(): string {
  const name = (i: number): string => String.fromCharCode(97 + i);
  const lines = [`${name(0)}: &${name(0)} [x, x, x, x, x, x, x, x, x]`];
  for (let i = 1; i < 8; i++) lines.push(`${name(i)}: &${name(i)} [${Array(9).fill(`*${name(i - 1)}`).join(', ')}]`);
  return `name: bomb\n${lines.join('\n')}\n`;
}

describe('hostile profiles via the CLI', () => {
  let dir: string;
  const files: Record<string, string> = {};
  beforeAll(() => {
    dir = tempDir('profile-errors');
    const write = (name: string, text: string): void => {
      files[name] = join(dir, name);
      writeFileSync(files[name], text);
    };
    write('bomb.yaml', aliasBomb());
    write('big.yaml', `name: big\n# ${'x'.repeat(1024 * 1024)}\n`);
    write('cycle.yaml', 'name: cycle\nproduct: "${A}"\nvars:\n  A: "${B}"\n  B: "${A}"\n');
    mkdirSync(join(dir, 'tpl'));
    write('tpl/user-data.hbs', `#cloud-config\nautoinstall:\n  version: 1\n# ${'x'.repeat(1024 * 1024)}\n`);
    write(
      'big-template.yaml',
      `name: tpl\nbase:\n  url: https://example.invalid/x.iso\n  sha256: "${'0'.repeat(64)}"\nautoinstall:\n  userData: tpl/user-data.hbs\n`,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, RegExp][] = [
    ['bomb.yaml', /bomb\.yaml: YAML aliases expand too far/],
    ['big.yaml', /profile .*big\.yaml is too large: \d+ bytes \(at most 1048576\)/],
    ['cycle.yaml', /cycle\.yaml:4:\d+: vars\.A: variables refer to each other: \$\{A\} -> \$\{B\} -> \$\{A\}/],
    ['big-template.yaml', /autoinstall template .*user-data\.hbs is too large/],
  ];
  it.each(cases)('profile validate %s', (name, message) => {
    expectOneLineUsageError(runCli(['profile', 'validate', files[name]!]), message);
  });
  it.each(cases.slice(0, 3))('build with %s', (name, message) => {
    expectOneLineUsageError(runCli(['v1.0.0', '--profile', files[name]!, '--work', join(dir, 'work'), '--output', join(dir, 'out')]), message);
  });
});
