/**
 * The package repository's private gpg home: inside the given (work) directory, its gpg-agent stopped when signing
 * ends, and a home an earlier build left (with its live agent and unprotected secret key) cleared by the next one.
 * Read back from /proc, not with the code under test.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSigningKey, openPrivateGpgHome } from '../../src/tools/gpg.js';
import { tempDir } from '../support/cli.js';
import { needs, requireTools } from '../support/needs.js';

function agentsOf(home: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((pid) => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
        return cmd.includes('gpg-agent') && cmd.includes(home) ? [`${pid} ${cmd}`] : [];
      } catch {
        return [];
      }
    });
}

describe('private gpg homes', needs(requireTools('gpg', 'gpgconf', 'gpg-agent')), () => {
  const work = tempDir('gpghome');
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('lives in the work directory; close() stops its agent and removes it; a left-over home is cleared first', async () => {
    const dir = join(work, 'gpg');
    const first = await openPrivateGpgHome(dir);
    expect(first.home).toBe(dir);
    await generateSigningKey({ home: first.home }, 'test <test@example.invalid>');
    expect(agentsOf(dir).length).toBeGreaterThan(0); // gpg started an agent for the home
    // A killed build never closes: the next one at the same place stops the agent and removes the key first.
    const second = await openPrivateGpgHome(dir);
    expect(agentsOf(dir)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
    await generateSigningKey({ home: second.home }, 'test <test@example.invalid>');
    await second.close();
    expect(agentsOf(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});
