/** A plain-text build log in the work directory: every command and its output, for post-mortems and CI artifacts. */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class BuildLog {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '');
  }

  line(text: string): void {
    // Synchronous on purpose: the log must be complete even when the process is killed right after.
    appendFileSync(this.path, `${text}\n`);
  }

  section(title: string): void {
    this.line(`\n=== ${new Date().toISOString()} ${title}`);
  }
}
