/**
 * The reaper's last resort (tools/reaper.ts): a command iso-build started but was killed before registering its process
 * group (the instant after spawn) still dies with iso-build, found by the token in its environment. A child node
 * process plays iso-build with the built module: it starts `sleep` with the token and without registering it, then
 * SIGKILLs itself. Read back in /proc.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../support/cli.js';
import { needs, requireTools } from '../support/needs.js';

const CHILD = `
import { spawn } from 'node:child_process';
import { REAP_ENV, reapToken } from ${JSON.stringify(join(REPO, 'dist/tools/reaper.js'))};
const token = reapToken();
const unregistered = spawn('sleep', ['300'], { detached: true, stdio: 'ignore', env: { ...process.env, [REAP_ENV]: token } });
const bystander = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
console.log(unregistered.pid, bystander.pid);
setTimeout(() => process.kill(process.pid, 'SIGKILL'), 200);
`;

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

describe('the reaper', needs(requireTools('sleep', 'grep')), () => {
  it('kills what holds the token of an iso-build that died by SIGKILL, and nothing else', async () => {
    // A plain environment: the test runner's own must not decide what the child's processes carry.
    const res = spawnSync('node', ['--input-type=module', '-e', CHILD], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    expect(res.signal).toBe('SIGKILL');
    const [unregistered, bystander] = res.stdout.trim().split(' ').map(Number);
    expect(unregistered).toBeGreaterThan(0);
    const deadline = Date.now() + 5000;
    while (alive(unregistered!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive(unregistered!)).toBe(false);
    expect(alive(bystander!)).toBe(true);
    process.kill(bystander!, 'SIGKILL');
  });
});
