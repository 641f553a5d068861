/**
 * Before any test: compile dist/ (the CLI under test is the built one, as users run it) and make sure the
 * fixture ISOs exist (scripts/make-fixture-iso is cached by its recipe, ~1 s when nothing changed).
 */
import { execFileSync } from 'node:child_process';
import { REPO, haveFixtures } from './cli.js';

export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'inherit' });
  if (process.getuid?.() === 0 && !haveFixtures()) {
    execFileSync('scripts/make-fixture-iso', ['--variant', 'all'], { cwd: REPO, stdio: 'inherit' });
  }
}
