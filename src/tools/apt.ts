/**
 * apt, apt-ftparchive and dpkg-deb: resolving a dependency closure for a target system with an isolated apt
 * configuration (APT_CONFIG), downloading .debs, indexing a flat repository and reading .deb control data.
 */
import { run, type RunResult } from './process.js';
import type { BuildLog } from '../build-log.js';

export interface AptCall {
  log?: BuildLog;
  onLine?: (line: string) => void;
  cwd?: string;
  signal?: AbortSignal;
}

/** "Get:3 http://... jq amd64 1.6 [64.0 kB]" and the "NN% [...]" progress lines apt prints without a TTY. */
const APT_PROGRESS = /^\d+% \[/;

/** apt-get with a private configuration file: nothing of the build host's /etc/apt is read. */
export async function aptGet(aptConfig: string, args: readonly string[], call: AptCall = {}): Promise<RunResult> {
  return run('apt-get', ['-q', ...args], {
    env: { APT_CONFIG: aptConfig, DEBIAN_FRONTEND: 'noninteractive' },
    cwd: call.cwd,
    log: call.log,
    onLine: call.onLine,
    signal: call.signal,
    isProgress: (line) => APT_PROGRESS.test(line),
    what: `apt-get ${args.filter((a) => !a.startsWith('-')).slice(0, 3).join(' ')}`,
  });
}

/** `apt-ftparchive packages .` in `dir`: the Packages index of the .debs below it (paths relative to dir). */
export async function ftparchivePackages(dir: string, call: AptCall = {}): Promise<string> {
  const res = await run('apt-ftparchive', ['-q=2', 'packages', '.'], { cwd: dir, log: undefined, what: `apt-ftparchive packages ${dir}` });
  call.log?.line(`apt-ftparchive packages ${dir}: ${res.stdout.split('\n\n').filter((s) => s.trim()).length} entries`);
  return res.stdout;
}

/** The control file of a .deb (fails when the .deb is not a valid archive). */
export async function debControl(deb: string, call: AptCall = {}): Promise<string> {
  const res = await run('dpkg-deb', ['--field', deb], { log: call.log, what: `dpkg-deb --field ${deb}` });
  return res.stdout;
}

/** `file` -> `file.xz` (apt repository indexes), keeping `file`. */
export async function xzCompress(file: string, call: AptCall = {}): Promise<void> {
  await run('xz', ['-k', '-f', '-9', '-T1', file], { log: call.log, what: `xz ${file}` });
}
