import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapingLinks, readFileBeneath, resolveBeneath, writeFileBeneath } from '../../src/safe-path.js';
import { removeLeftovers } from '../../src/apt-leftovers.js';

describe('safe-path: never through a symlink out of the root', () => {
  let dir: string;
  let root: string;
  let decoy: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'safe-path-'));
    root = join(dir, 'tree');
    decoy = join(dir, 'decoy');
    mkdirSync(join(root, 'boot/grub'), { recursive: true });
    mkdirSync(join(root, 'isolinux'), { recursive: true });
    mkdirSync(decoy);
    writeFileSync(join(decoy, 'secret'), 'host secret\n');
    writeFileSync(join(root, 'isolinux/real.cfg'), 'inside\n');
    symlinkSync(join(decoy, 'secret'), join(root, 'md5sum.txt')); // absolute: the host
    symlinkSync('../../../decoy', join(root, 'boot/out')); // relative, climbing out
    symlinkSync('../../isolinux/real.cfg', join(root, 'boot/grub/grub.cfg')); // relative, inside
    symlinkSync('.', join(root, 'ubuntu')); // Ubuntu's own ubuntu -> .
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists exactly the links that lead out', () => {
    expect(escapingLinks(root).map((l) => l.path).sort()).toEqual(['boot/out', 'md5sum.txt']);
  });
  it('follows links that stay inside', () => {
    expect(resolveBeneath(root, 'boot/grub/grub.cfg')).toBe(join(root, 'isolinux/real.cfg'));
    expect(resolveBeneath(root, 'ubuntu/isolinux/real.cfg')).toBe(join(root, 'isolinux/real.cfg'));
    writeFileBeneath(root, 'boot/grub/grub.cfg', 'edited\n');
    expect(readFileSync(join(root, 'isolinux/real.cfg'), 'utf8')).toBe('edited\n');
  });
  it('refuses a link out, naming it, and leaves the host file alone', () => {
    expect(() => writeFileBeneath(root, 'md5sum.txt', 'x', { what: 'the ISO tree' })).toThrow(/the ISO tree: md5sum.txt is a symlink to \/.*decoy\/secret, which leads out/);
    expect(() => readFileBeneath(root, 'md5sum.txt')).toThrow(/leads out/);
    expect(() => writeFileBeneath(root, 'boot/out/secret', 'x')).toThrow(/boot\/out is a symlink to \.\.\/\.\.\/\.\.\/decoy/);
    expect(() => resolveBeneath(root, '../decoy/secret')).toThrow(/leads out/);
    expect(readFileSync(join(decoy, 'secret'), 'utf8')).toBe('host secret\n');
    expect(lstatSync(join(root, 'md5sum.txt')).isSymbolicLink()).toBe(true);
  });
  it('the entry itself when asked, and absent files read as undefined', () => {
    expect(resolveBeneath(root, 'md5sum.txt', { followLast: false })).toBe(join(root, 'md5sum.txt'));
    expect(readFileBeneath(root, 'none/such')).toBeUndefined();
    expect(writeFileBeneath(root, '.disk/info', 'new')).toBe(join(root, '.disk/info'));
  });
});

describe('apt leftovers cleanup stays inside the rootfs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'leftovers-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('an absolute /var/log or /var/cache/apt symlink to a host path deletes nothing on the host', () => {
    const root = join(dir, 'rootfs');
    const host = join(dir, 'host');
    mkdirSync(join(root, 'var/cache'), { recursive: true });
    mkdirSync(join(host, 'archives'), { recursive: true });
    for (const f of ['dpkg.log', 'pkgcache.bin', 'archives/x.deb']) writeFileSync(join(host, f), 'host');
    symlinkSync(host, join(root, 'var/log'));
    symlinkSync(host, join(root, 'var/cache/apt'));
    // the same path inside the rootfs is where the chroot sees it: that one is cleaned
    mkdirSync(join(root, host.slice(1), 'archives'), { recursive: true });
    writeFileSync(join(root, host.slice(1), 'dpkg.log'), 'in rootfs');
    removeLeftovers(root);
    for (const f of ['dpkg.log', 'pkgcache.bin', 'archives/x.deb']) expect(readFileSync(join(host, f), 'utf8')).toBe('host');
    expect(() => lstatSync(join(root, host.slice(1), 'dpkg.log'))).toThrow();
  });
});
