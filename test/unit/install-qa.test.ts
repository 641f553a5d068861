/** Install QA pieces: option parsing, the partition table reader, and the disk checks against a real ext4 image (debugfs). */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSizeOption } from '../../src/commands/boot.js';
import { parseExpectAbsent, parseExpectFile, runDiskCheck } from '../../src/install-qa/checks.js';
import { guidText } from '../../src/image/boot.js';
import { findExtRoot, readPartitions } from '../../src/install-qa/partitions.js';
import { ExtImage } from '../../src/tools/debugfs.js';
import { tempDir } from '../support/cli.js';

describe('option parsing', () => {
  it('reads --expect-file and --expect-absent', () => {
    expect(parseExpectFile('/opt/novasphere/VERSION=v1.0.0')).toEqual({ kind: 'content', path: '/opt/novasphere/VERSION', content: 'v1.0.0' });
    expect(parseExpectFile('/opt/novasphere/build-info.json')).toEqual({ kind: 'json', path: '/opt/novasphere/build-info.json' });
    expect(parseExpectFile('/etc/x')).toEqual({ kind: 'exists', path: '/etc/x' });
    expect(parseExpectFile('/etc/x=')).toEqual({ kind: 'content', path: '/etc/x', content: '' });
    expect(() => parseExpectFile('etc/x')).toThrow(/absolute/);
    expect(parseExpectAbsent('/usr/lib/fixture-installer')).toEqual({ kind: 'absent', path: '/usr/lib/fixture-installer' });
  });
  it('reads --disk-size', () => {
    expect(parseSizeOption(undefined)).toBe(8 * 1024 ** 3);
    expect(parseSizeOption('512M')).toBe(512 * 1024 ** 2);
    expect(parseSizeOption('1GiB')).toBe(1024 ** 3);
    expect(() => parseSizeOption('1K')).toThrow(/too small/);
    expect(() => parseSizeOption('lots')).toThrow(/invalid --disk-size/);
  });
  it('prints GPT GUIDs in their text form', () => {
    const esp = Buffer.from('28732ac11ff8d211ba4b00a0c93ec93b', 'hex');
    expect(guidText(esp)).toBe('C12A7328-F81F-11D2-BA4B-00A0C93EC93B');
  });
});

describe('an installed disk image (MBR + ext4, read with debugfs)', () => {
  let dir: string;
  let disk: string;
  beforeAll(() => {
    dir = tempDir('install-qa');
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'opt/novasphere'), { recursive: true });
    mkdirSync(join(tree, 'boot'), { recursive: true });
    writeFileSync(join(tree, 'opt/novasphere/VERSION'), 'v1.2.3\n');
    writeFileSync(join(tree, 'opt/novasphere/build-info.json'), '{"version":"v1.2.3"}');
    writeFileSync(join(tree, 'opt/novasphere/broken.json'), '{');
    writeFileSync(join(tree, 'boot/vmlinuz-6.1'), 'kernel');
    symlinkSync('vmlinuz-6.1', join(tree, 'boot/vmlinuz'));
    disk = join(dir, 'disk.img');
    // one MBR partition from sector 2048, type 83, written by hand (no partitioning tool needed)
    const mbr = Buffer.alloc(512);
    mbr[446 + 4] = 0x83;
    mbr.writeUInt32LE(2048, 446 + 8);
    mbr.writeUInt32LE(63 * 2048, 446 + 12);
    mbr.writeUInt16LE(0xaa55, 510);
    writeFileSync(disk, mbr);
    execFileSync('truncate', ['-s', '64M', disk]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-E', 'offset=1048576', '-d', tree, disk, '63M']);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the ext4 root partition', async () => {
    expect(await readPartitions(disk)).toEqual([{ number: 1, offsetBytes: 1048576, sizeBytes: 63 * 1048576, type: '83' }]);
    expect((await findExtRoot(disk))?.number).toBe(1);
  });

  it('checks files without mounting', async () => {
    const fs = new ExtImage(disk, 1048576);
    const check = async (spec: string): Promise<boolean> => (await runDiskCheck(fs, parseExpectFile(spec))).ok;
    expect(await check('/opt/novasphere/VERSION=v1.2.3')).toBe(true);
    expect(await check('/opt/novasphere/VERSION=v9.9.9')).toBe(false);
    expect(await check('/opt/novasphere/build-info.json')).toBe(true);
    expect(await check('/opt/novasphere/broken.json')).toBe(false);
    expect(await check('/opt/novasphere')).toBe(true);
    expect(await check('/opt/missing')).toBe(false);
    expect((await runDiskCheck(fs, parseExpectAbsent('/opt/missing'))).ok).toBe(true);
    expect((await runDiskCheck(fs, parseExpectAbsent('/boot/vmlinuz'))).ok).toBe(false);
    expect((await fs.resolve('/boot/vmlinuz'))?.path).toBe('/boot/vmlinuz-6.1');
  });
});
