/**
 * Debian package version order from dpkg itself (`dpkg --compare-versions`, deb-version(7): epochs, `~` before
 * everything, Debian revisions): one shell runs a whole batch of comparisons, so a release with hundreds of changed
 * packages starts one process from here, not hundreds.
 */
import { IsoBuildError } from '../errors.js';
import { run } from './process.js';

// One line per pair on stdin ("A B"), one answer per line on stdout. dpkg exits 0 (true), 1 (false) or 2 (a version
// it cannot parse). `lt` first: in a package diff most pairs are upgrades, so most pairs cost one dpkg call.
const SCRIPT = `answer() {
  dpkg --compare-versions "$1" lt "$2"; lt=$?
  [ $lt = 0 ] && { echo -1; return; }
  [ $lt = 1 ] || { echo bad; return; }
  if dpkg --compare-versions "$1" gt "$2"; then echo 1; else echo 0; fi
}
while read -r a b; do answer "$a" "$b"; done`;

/** For each pair [a, b]: negative when a is older, positive when newer, 0 when dpkg holds them equal (1.0 = 0:1.0). */
export async function compareDebianVersions(pairs: readonly (readonly [string, string])[]): Promise<number[]> {
  if (pairs.length === 0) return [];
  const bad = pairs.flat().find((v) => v === '' || /\s/.test(v));
  if (bad !== undefined) throw new IsoBuildError(`"${bad}" is not a Debian package version (empty, or it contains white space)`);
  const { stdout } = await run('sh', ['-c', SCRIPT], { input: pairs.map(([a, b]) => `${a} ${b}\n`).join(''), what: 'dpkg --compare-versions' });
  const answers = stdout.split('\n').filter(Boolean);
  if (answers.length !== pairs.length) throw new IsoBuildError(`dpkg --compare-versions answered ${answers.length} of ${pairs.length} comparisons`);
  return answers.map((answer, i) => {
    if (answer !== 'bad') return Number(answer);
    throw new IsoBuildError(`dpkg cannot compare the package versions "${pairs[i]![0]}" and "${pairs[i]![1]}" (bad syntax)`);
  });
}
