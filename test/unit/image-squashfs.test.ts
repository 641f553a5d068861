/** Bad squashfs images give an IsoBuildError naming the broken structure, never a crash or a hang. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IsoBuildError } from '../../src/errors.js';
import { modeString } from '../../src/image/listing.js';
import { bufferSource } from '../../src/image/source.js';
import { SquashFs } from '../../src/image/squashfs.js';
import { mksquashfs } from '../support/squashfs.js';

let dir: string;
let plain: Buffer; // metadata stored uncompressed (-noI), so tests can patch directory entries

function squash(name: string, args: string[]): Buffer {
  return readFileSync(mksquashfs(join(dir, 'tree'), join(dir, `${name}.sqfs`), args));
}

async function readEverything(image: Buffer): Promise<number> {
  const fs = await SquashFs.open(bufferSource(image, 'test.sqfs'));
  let n = 0;
  for await (const { inode } of fs.walk(await fs.root())) {
    n++;
    if (inode.type === 'file') for await (const _ of fs.read(inode)) n++;
  }
  return n;
}

async function expectBroken(image: Buffer, message: RegExp): Promise<void> {
  const err = await readEverything(image).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IsoBuildError);
  expect((err as Error).message).toMatch(message);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'isobuild-unit-sqfs-'));
  mkdirSync(join(dir, 'tree/loop/sub'), { recursive: true });
  writeFileSync(join(dir, 'tree/loop/sub/file'), 'x'.repeat(200_000));
  writeFileSync(join(dir, 'tree/a.txt'), 'a\n');
  plain = squash('plain', ['-comp', 'gzip', '-noI', '-noD', '-noF']);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('squashfs reader on bad input', () => {
  it('reads the good image', async () => {
    expect(await readEverything(plain)).toBeGreaterThan(4);
  });

  it('wrong magic', async () => {
    const bad = Buffer.from(plain);
    bad.write('nope', 0);
    await expectBroken(bad, /is not a squashfs image \(no hsqs magic\)/);
  });

  it('truncated image', async () => {
    await expectBroken(plain.subarray(0, 60), /squashfs superblock is broken: the image has only 60 bytes/);
    await expectBroken(plain.subarray(0, plain.length - 4096), /squashfs superblock is broken: it claims \d+ bytes but the image has \d+ \(truncated\?\)/);
  });

  it('unknown version, compressor and block size', async () => {
    const v = Buffer.from(plain);
    v.writeUInt16LE(3, 28);
    await expectBroken(v, /squashfs superblock is broken: version 3\.0/);
    const c = Buffer.from(plain);
    c.writeUInt16LE(9, 20);
    await expectBroken(c, /unknown compressor id 9/);
    const b = Buffer.from(plain);
    b.writeUInt32LE(12345, 12);
    await expectBroken(b, /block size 12345/);
  });

  it('table offsets outside the image', async () => {
    const bad = Buffer.from(plain);
    bad.writeBigUInt64LE(BigInt(plain.length) * 4n, 64); // inode table start
    await expectBroken(bad, /squashfs superblock is broken: table offsets/);
  });

  it('absurd file size in an inode', async () => {
    // The regular file inode of loop/sub/file: type 2 (basic file), size field at +28.
    const bad = Buffer.from(plain);
    const inodeTable = Number(bad.readBigUInt64LE(64));
    let patched = false;
    for (let p = inodeTable + 2; p < bad.length - 32; p++) {
      if (bad.readUInt16LE(p) === 2 && bad.readUInt32LE(p + 28) === 200_000) {
        bad.writeUInt32LE(0xfffffff0, p + 28);
        patched = true;
        break;
      }
    }
    expect(patched).toBe(true);
    await expectBroken(bad, /squashfs (inode table|data).* is broken/);
  });

  it('a directory entry pointing back at the root (a loop)', async () => {
    const bad = Buffer.from(plain);
    const rootRef = bad.readBigUInt64LE(32);
    const dirTable = Number(bad.readBigUInt64LE(72));
    // "sub" is the only entry of loop/: its run header sits right before it. Point it at the root inode.
    const name = bad.indexOf(Buffer.from('sub'), dirTable);
    const entry = name - 8;
    const header = entry - 12;
    expect(bad.readUInt32LE(header)).toBe(0); // one entry in this run
    bad.writeUInt32LE(Number(rootRef >> 16n), header + 4);
    bad.writeUInt16LE(Number(rootRef & 0xffffn), entry);
    await expectBroken(bad, /directory \/loop\/sub is broken: it is listed twice \(a directory loop\)/);
  });

  it('garbage in compressed metadata', async () => {
    const xz = squash('xz', ['-comp', 'xz']);
    const bad = Buffer.from(xz);
    const inodeTable = Number(bad.readBigUInt64LE(64));
    bad.fill(0x5a, inodeTable + 2, inodeTable + 40);
    await expectBroken(bad, /metadata block at \d+ does not decompress \(xz: /);
  });

  it('refuses lzo', async () => {
    await expectBroken(squash('lzo', ['-comp', 'lzo']), /squashfs compressed with lzo cannot be read in-process/);
  });
});

describe('mode strings', () => {
  it('formats like ls', () => {
    expect(modeString({ type: 'file', mode: 0o104755 })).toBe('-rwsr-xr-x');
    expect(modeString({ type: 'dir', mode: 0o041777 })).toBe('drwxrwxrwt');
    expect(modeString({ type: 'dir', mode: 0o041776 })).toBe('drwxrwxrwT');
    expect(modeString({ type: 'file', mode: 0o102640 })).toBe('-rw-r-S---');
    expect(modeString({ type: 'chardev', mode: 0o020600 })).toBe('crw-------');
  });
});
