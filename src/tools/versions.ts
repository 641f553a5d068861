/** Tool versions, asked once per process: the stage-cache key and the build manifest both record them. */
import { run } from './process.js';

const asked = new Map<string, Promise<string>>();

/** The first line `file args` prints (stdout, else stderr); "not installed" when it cannot run. */
export function toolVersion(file: string, args: string[] = ['-version']): Promise<string> {
  const key = [file, ...args].join(' ');
  let answer = asked.get(key);
  if (!answer) {
    answer = run(file, args, { what: `${file} version`, okExitCodes: [1] }).then(
      ({ stdout, stderr }) => (stdout.trim() || stderr.trim()).split('\n')[0]!.trim(),
      () => 'not installed',
    );
    asked.set(key, answer);
  }
  return answer;
}
