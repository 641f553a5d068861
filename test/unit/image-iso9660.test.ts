/** ISO 9660 reader: Rock Ridge, Joliet and plain names, symlinks, multi-extent files, and clear errors on bad images. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IsoBuildError } from '../../src/errors.js';
import { IsoImage } from '../../src/image/iso9660.js';
import { checkIsoMd5sums } from '../../src/image/md5sum.js';
import { bufferSource, type ByteSource } from '../../src/image/source.js';

let dir: string;
const isos: Record<string, Buffer> = {};

function mkisofs(name: string, flags: string[]): Buffer {
  const out = join(dir, `${name}.iso`);
  execFileSync('xorriso', ['-as', 'mkisofs', ...flags, '-V', 'TEST_LABEL', '-o', out, join(dir, 'tree')], { stdio: 'ignore' });
  return readFileSync(out);
}

async function open(buf: Buffer): Promise<IsoImage> {
  return IsoImage.open(bufferSource(buf, 'test.iso'));
}

async function text(iso: IsoImage, path: string): Promise<string> {
  const e = await iso.lookup(path);
  expect(e, path).toBeDefined();
  return (await iso.readAll(e!)).toString();
}

async function failure(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(IsoBuildError);
  return err as Error;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'isobuild-unit-iso-'));
  mkdirSync(join(dir, 'tree/Casper/deeper/still'), { recursive: true });
  writeFileSync(join(dir, 'tree/Casper/deeper/still/MixedCase-long-file-name.squashfs'), 'payload\n');
  writeFileSync(join(dir, 'tree/aa'), 'A'.repeat(2048));
  writeFileSync(join(dir, 'tree/ab'), 'B'.repeat(100));
  symlinkSync('Casper/deeper', join(dir, 'tree/shortcut'));
  isos.rr = mkisofs('rr', ['-r', '-J']);
  isos.joliet = mkisofs('joliet', ['--norock', '-J']);
  isos.plain = mkisofs('plain', ['--norock']);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ISO 9660 reader', () => {
  it('Rock Ridge: exact names, modes, symlink targets, volume label', async () => {
    const iso = await open(isos.rr!);
    expect(iso.nameSource).toBe('rockridge');
    expect(iso.volumeId).toBe('TEST_LABEL');
    expect(await text(iso, '/Casper/deeper/still/MixedCase-long-file-name.squashfs')).toBe('payload\n');
    const link = await iso.lookup('/shortcut');
    expect(link?.target).toBe('Casper/deeper');
    expect((link!.mode & 0o170000).toString(8)).toBe('120000');
    expect(await iso.lookup('/casper')).toBeUndefined(); // Rock Ridge names are case-sensitive
  });

  it('Joliet names when there is no Rock Ridge', async () => {
    const iso = await open(isos.joliet!);
    expect(iso.nameSource).toBe('joliet');
    expect(await text(iso, '/Casper/deeper/still/MixedCase-long-file-name.squashfs')).toBe('payload\n');
  });

  it('plain ISO 9660 names, looked up case-insensitively', async () => {
    const iso = await open(isos.plain!);
    expect(iso.nameSource).toBe('iso9660');
    expect(await text(iso, '/aa')).toBe('A'.repeat(2048));
  });

  it('joins the extents of a multi-extent file', async () => {
    // Turn "aa" + "ab" into one file "aa" of two extents: set the multi-extent flag and rename the second record.
    const buf = Buffer.from(isos.rr!);
    const iso = await open(buf);
    const root = iso.root().extents[0]!;
    const area = buf.subarray(root.offset, root.offset + root.length);
    const recordOf = (isoName: string): number => {
      for (let pos = 0; pos < area.length && area[pos]! > 0; pos += area[pos]!) {
        if (area.toString('latin1', pos + 33, pos + 33 + area[pos + 32]!).startsWith(isoName)) return pos;
      }
      throw new Error(`no record ${isoName}`);
    };
    const a = recordOf('AA');
    const b = recordOf('AB');
    area[a + 25] = area[a + 25]! | 0x80;
    const rec = area.subarray(b, b + area[b]!);
    rec.write('AA', 33, 'latin1');
    const nm = rec.indexOf('NM', 34, 'latin1');
    rec.write('aa', nm + 5, 'latin1');
    const merged = await (await open(buf)).lookup('/aa');
    expect(merged?.extents).toHaveLength(2);
    expect((await (await open(buf)).readAll(merged!)).toString()).toBe('A'.repeat(2048) + 'B'.repeat(100));
    // Adjacent extents (how xorriso writes files over 4 GiB) open in place as one range.
    const range = (await open(buf)).slice(merged!, 'aa');
    expect((await range.read(0, range.size, 'test')).toString()).toBe('A'.repeat(2048) + 'B'.repeat(100));
  });

  it('parses each directory once: md5sum.txt over 300 files in 3 directories reads each directory extent once', async () => {
    const tree = join(dir, 'many');
    const lines: string[] = [];
    for (const sub of ['pool/main/a', 'pool/main/b', 'casper']) {
      mkdirSync(join(tree, sub), { recursive: true });
      for (let i = 0; i < 100; i++) {
        const body = `${sub} ${i}\n`;
        writeFileSync(join(tree, sub, `file-${i}.deb`), body);
        lines.push(`${createHash('md5').update(body).digest('hex')}  ./${sub}/file-${i}.deb\n`);
      }
    }
    lines.push(`${'0'.repeat(32)}  ./casper/not-there\n`);
    writeFileSync(join(tree, 'md5sum.txt'), lines.join(''));
    const out = join(dir, 'many.iso');
    execFileSync('xorriso', ['-as', 'mkisofs', '-r', '-J', '-o', out, tree], { stdio: 'ignore' });
    const buf = readFileSync(out);
    // Count reads by offset: the directories are the reads at their own extents.
    const reads = new Map<number, number>();
    const base = bufferSource(buf, 'many.iso');
    const counting: ByteSource = { ...base, name: base.name, size: base.size, read: (pos, length, what) => (reads.set(pos, (reads.get(pos) ?? 0) + 1), base.read(pos, length, what)), slice: base.slice };
    const iso = await IsoImage.open(counting);
    const report = await checkIsoMd5sums(iso);
    expect(report.ok).toBe(300);
    expect(report.problems.map((p) => p.kind)).toEqual(['missing']);
    const dirOffsets: number[] = [];
    for await (const { entry } of iso.walk()) if (entry.isDir) dirOffsets.push(entry.extents[0]!.offset);
    expect(dirOffsets).toHaveLength(5); // pool, pool/main, a, b, casper
    // Each directory read once by the md5 check (walk() above reuses the parsed directories); the root once more by
    // open(), which looks for Rock Ridge's SP entry in it.
    for (const offset of dirOffsets) expect(reads.get(offset), `reads at ${offset}`).toBe(1);
    expect(reads.get(iso.root().extents[0]!.offset)).toBe(2);

    // Files the writer copied from the base are checked by size, not hashed: a wrong md5 line for one goes unread,
    // a wrong size does not.
    const size = 'casper 0\n'.length;
    const copied = await checkIsoMd5sums(iso, { copied: new Map([['casper/file-0.deb', size], ['casper/file-1.deb', size + 1]]) });
    expect(copied.ok).toBe(299);
    expect(copied.problems.map((p) => p.message)).toEqual([
      './casper/file-1.deb was copied from the base ISO (10 bytes) but has 9 bytes in the new ISO',
      'md5sum.txt lists ./casper/not-there, which is not in the ISO',
    ]);
  });

  it('not an ISO, truncated, and a directory extent outside the image', async () => {
    expect((await failure(open(Buffer.alloc(40000, 1)))).message).toMatch(/is not an ISO 9660 image \(no CD001 volume descriptor at sector 16\)/);
    expect((await failure(open(Buffer.alloc(1000)))).message).toMatch(/is not an ISO 9660 image \(too small/);
    const cut = isos.rr!.subarray(0, 17 * 2048 + 100);
    expect((await failure(open(cut))).message).toMatch(/test\.iso: ISO 9660 (volume descriptor 17|root directory) is broken: .* lie outside the image/);
    const bad = Buffer.from(isos.rr!);
    bad.writeUInt32LE(0x7fff0000, 16 * 2048 + 156 + 10); // root directory data length
    expect((await failure(open(bad))).message).toMatch(/ISO 9660 root directory is broken: .*(absurd|outside)/);
  });
});
