/**
 * A profile's script run on the build host (pre-repack and post-build hooks): itself if executable, else with /bin/sh.
 * Its process group ends with it (run()); what it started in a session of its own (a daemon) is found by a token in
 * its environment, killed and reported in the log, so no hook leaves anything running after the build.
 */
import { accessSync, constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { killProcessesWithEnv, run, type RunOptions } from './process.js';

const TOKEN_VAR = 'ISOBUILD_RUN_TOKEN'; // not ISO_BUILD_*: that prefix is for settings iso-build reads

export async function runHostScript(
  script: string,
  opts: Pick<RunOptions, 'cwd' | 'env' | 'log' | 'what' | 'onLine' | 'timeoutMs' | 'timeoutHint'>,
): Promise<void> {
  const executable = isExecutable(script);
  const token = randomBytes(8).toString('hex');
  try {
    await run(executable ? script : '/bin/sh', executable ? [] : [script], { ...opts, env: { ...opts.env, [TOKEN_VAR]: token } });
  } finally {
    const left = killProcessesWithEnv(TOKEN_VAR, token);
    for (const p of left) opts.log?.line(`warning: ${opts.what ?? script} left process ${p} running: killed`);
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
