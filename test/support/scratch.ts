/** Temp dirs a test file makes, removed when it ends (call `scratchDirs()` at module level). */
import { rmSync } from 'node:fs';
import { afterAll } from 'vitest';
import { tempDir } from './cli.js';

export function scratchDirs(): (prefix: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = tempDir(prefix);
    made.push(dir);
    return dir;
  };
}
