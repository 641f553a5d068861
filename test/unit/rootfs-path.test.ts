import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveInRoot } from '../../src/rootfs-path.js';

describe('resolveInRoot never leaves the root', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'rip-'));
    mkdirSync(join(root, 'usr/lib'), { recursive: true });
    symlinkSync('/usr/lib', join(root, 'lib')); // absolute, as in Ubuntu rootfs
    symlinkSync('../../../../../../etc', join(root, 'escape')); // relative, climbing out
    symlinkSync('/', join(root, 'rootlink'));
    symlinkSync('loop2', join(root, 'loop1'));
    symlinkSync('loop1', join(root, 'loop2'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('resolves absolute symlinks against the root, not the host', () => {
    expect(resolveInRoot(root, '/lib/x')).toBe(join(root, 'usr/lib/x'));
  });
  it('stops .. at the root', () => {
    expect(resolveInRoot(root, '/escape/passwd')).toBe(join(root, 'etc/passwd'));
    expect(resolveInRoot(root, '/../../etc/shadow')).toBe(join(root, 'etc/shadow'));
    expect(resolveInRoot(root, '/rootlink/etc')).toBe(join(root, 'etc'));
  });
  it('keeps a final symlink itself when asked (to replace it, not write through it)', () => {
    expect(resolveInRoot(root, '/lib', false)).toBe(join(root, 'lib'));
  });
  it('refuses symlink loops', () => {
    expect(() => resolveInRoot(root, '/loop1/x')).toThrow(/too many symlinks/);
  });
});
