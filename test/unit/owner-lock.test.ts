import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireLock, currentOwner, ownerAlive, processStartTime, tryLock, type LockOwner } from '../../src/owner-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'owner-lock-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(file: string, owner: LockOwner): void {
  writeFileSync(file, JSON.stringify(owner));
}

describe('owner-lock', () => {
  it('reads a process start time that differs between processes and is stable for one', () => {
    const mine = processStartTime(process.pid);
    expect(mine).toMatch(/^\d+$/);
    expect(processStartTime(process.pid)).toBe(mine);
    expect(processStartTime(2 ** 22 + 17)).toBeUndefined();
  });

  it('takes a free lock, refuses a second taker naming the owner, and frees it on release', () => {
    const file = join(dir, 'a.lock');
    const first = tryLock(file, 'first build');
    if (!('lock' in first)) throw new Error('expected the lock');
    const second = tryLock(file, 'second build');
    expect('heldBy' in second && second.heldBy.what).toBe('first build');
    expect(JSON.parse(readFileSync(file, 'utf8')).pid).toBe(process.pid);
    first.lock.release();
    expect(existsSync(file)).toBe(false);
    const third = tryLock(file, 'third build');
    expect('lock' in third).toBe(true);
    if ('lock' in third) third.lock.release();
  });

  it('takes over at once a lock whose owner is gone, or whose pid now belongs to another process', async () => {
    const child = spawn('sleep', ['30']);
    const pid = child.pid!;
    const file = join(dir, 'b.lock');
    const owner = { ...currentOwner('a killed build'), pid, startTime: processStartTime(pid)! };
    write(file, owner);
    expect(ownerAlive(owner)).toBe(true);
    expect('heldBy' in tryLock(file, 'me')).toBe(true);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    expect(ownerAlive(owner)).toBe(false);
    const got = tryLock(file, 'me');
    expect('lock' in got).toBe(true);
    if ('lock' in got) got.lock.release();

    // A live pid with another start time (pid reuse) and a record from another boot are not the owner either.
    write(file, { ...currentOwner('reused pid'), startTime: '1' });
    const reused = tryLock(file, 'me');
    expect('lock' in reused).toBe(true);
    if ('lock' in reused) reused.lock.release();
    write(file, { ...currentOwner('before the reboot'), bootId: 'another-boot' });
    const rebooted = tryLock(file, 'me');
    expect('lock' in rebooted).toBe(true);
    if ('lock' in rebooted) rebooted.lock.release();
    // Garbage under the name has no owner to wait for.
    writeFileSync(file, 'not json');
    const garbage = tryLock(file, 'me');
    expect('lock' in garbage).toBe(true);
    if ('lock' in garbage) garbage.lock.release();
  });

  it('waits for a live owner, says who it is, and takes the lock once the owner ends', async () => {
    const child = spawn('sleep', ['30']);
    const pid = child.pid!;
    const file = join(dir, 'c.lock');
    write(file, { ...currentOwner('the other build'), pid, startTime: processStartTime(pid)! });
    const seen: string[] = [];
    const waiting = acquireLock(file, 'me', { pollMs: 50, onWait: (o) => seen.push(o.what) });
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual(['the other build']);
    child.kill('SIGKILL');
    const lock = await waiting;
    expect(JSON.parse(readFileSync(file, 'utf8')).what).toBe('me');
    lock.release();
  });
});
