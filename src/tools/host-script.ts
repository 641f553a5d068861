/** A profile's script run on the build host (pre-repack and post-build hooks): itself if executable, else with /bin/sh. */
import { accessSync, constants } from 'node:fs';
import { run, type RunOptions } from './process.js';

export async function runHostScript(script: string, opts: Pick<RunOptions, 'cwd' | 'env' | 'log' | 'what' | 'onLine'>): Promise<void> {
  const executable = isExecutable(script);
  await run(executable ? script : '/bin/sh', executable ? [] : [script], opts);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
