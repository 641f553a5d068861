/** Directory records, identifiers and path tables of the in-place writer (src/image/iso-records.ts), byte by byte. */
import { describe, expect, it } from 'vitest';
import { compareIdentifiers, isoIdentifier, jolietIdentifier, makeRecord, packedSize, packRecords, parseDirExtent, pathTable, recordDate, rockRidgeEntries, withDate, withExtent } from '../../src/image/iso-records.js';

const date = recordDate(1_700_000_000);

describe('ISO 9660 records', () => {
  it('dates as ECMA-119 9.1.5 has them (UTC)', () => {
    expect([...date]).toEqual([123, 11, 14, 22, 13, 20, 0]);
  });

  it('a record carries both byte orders, an even length and its Rock Ridge entries; withExtent and withDate patch copies', () => {
    const su = rockRidgeEntries(0o100444, date, 'install-sources.yaml');
    const r = makeRecord({ id: Buffer.from('INSTALL_.YAM;1'), lba: 1234, size: 693, isDir: false, date, su });
    expect(r.length % 2).toBe(0);
    expect(r[0]).toBe(r.length);
    expect([r.readUInt32LE(2), r.readUInt32BE(6), r.readUInt32LE(10), r.readUInt32BE(14)]).toEqual([1234, 1234, 693, 693]);
    const moved = withExtent(r, 99, 7);
    expect([moved.readUInt32LE(2), moved.readUInt32BE(6), moved.readUInt32LE(10), moved.readUInt32BE(14)]).toEqual([99, 99, 7, 7]);
    expect(r.readUInt32LE(2)).toBe(1234);
    const later = recordDate(1_800_000_000);
    const redated = withDate(r, later);
    expect(redated.subarray(18, 25).equals(later)).toBe(true);
    // The three TF times follow the TF header (5 bytes) and PX (36 bytes) in the System Use area.
    const tf = redated.indexOf(Buffer.from('TF'));
    for (let t = tf + 5; t < tf + 26; t += 7) expect(redated.subarray(t, t + 7).equals(later)).toBe(true);
  });

  it('parses what it makes, Rock Ridge names first', () => {
    const dot = makeRecord({ id: Buffer.from([0]), lba: 20, size: 2048, isDir: true, date, su: rockRidgeEntries(0o40555, date) });
    const dotdot = makeRecord({ id: Buffer.from([1]), lba: 19, size: 2048, isDir: true, date, su: rockRidgeEntries(0o40555, date) });
    const file = makeRecord({ id: Buffer.from('A.TXT;1'), lba: 30, size: 5, isDir: false, date, su: rockRidgeEntries(0o100444, date, 'a long name.txt') });
    const parsed = parseDirExtent(packRecords([dot, dotdot, file]), 'rockridge', () => Buffer.alloc(0));
    if (typeof parsed === 'string') throw new Error(parsed);
    expect(parsed.records.map((x) => [x.name, x.lba, x.size, x.isDir])).toEqual([['a long name.txt', 30, 5, false]]);
    expect(parseDirExtent(packRecords([file]), 'rockridge', () => Buffer.alloc(0))).toMatch(/lacks its "\." or "\.\." record/);
  });

  it('packs records into sectors without crossing one', () => {
    const big = makeRecord({ id: Buffer.alloc(200, 0x41), lba: 1, size: 1, isDir: false, date });
    const lengths = Array<number>(11).fill(big.length);
    const packed = packRecords(Array<Buffer>(11).fill(big));
    expect(packed.length).toBe(packedSize(lengths));
    expect(packed.length).toBe(2 * 2048); // 234-byte records: 8 per sector
    expect(packed[8 * big.length]).toBe(0);
    expect(packed[2048]).toBe(big.length);
  });
});

describe('identifiers', () => {
  it('8.3 d-characters, unique in the directory', () => {
    expect(isoIdentifier('fixture-minimal.fixture-server.bench.squashfs', false, new Set()).toString()).toBe('FIXTURE_.SQU;1');
    expect(isoIdentifier('fixture-minimal.fixture-server.bench.squashfs', false, new Set(['FIXTURE_.SQU;1'])).toString()).toBe('FIXTURE0.SQU;1');
    expect(isoIdentifier('initrd', false, new Set()).toString()).toBe('INITRD.;1');
    expect(isoIdentifier('nova sphere.d', true, new Set()).toString()).toBe('NOVA_SPH');
    expect(jolietIdentifier('md5sum.txt', false).equals(Buffer.from('md5sum.txt', 'utf16le').swap16())).toBe(true);
  });

  it('ECMA-119 9.3 order: names padded with spaces before extensions', () => {
    const id = (s: string): Buffer => Buffer.from(s, 'latin1');
    expect(compareIdentifiers('rockridge', id('A.B;1'), id('AB.C;1'))).toBeLessThan(0);
    expect(compareIdentifiers('rockridge', id('UBUNTU_0.SQU;1'), id('UBUNTU_0.MAN;1'))).toBeGreaterThan(0);
    expect(compareIdentifiers('rockridge', id('BOOT'), id('BOOT.CAT;1'))).toBeLessThan(0);
  });
});

describe('path tables', () => {
  it('type L little-endian, type M big-endian, identifiers padded to even length', () => {
    const dirs = [{ id: Buffer.from([0]), lba: 20, parent: 1 }, { id: Buffer.from('BOOT'), lba: 21, parent: 1 }, { id: Buffer.from('EFI'), lba: 22, parent: 1 }];
    const l = pathTable(dirs, false);
    const m = pathTable(dirs, true);
    expect(l.length).toBe(10 + 12 + 12);
    expect([l[0], l.readUInt32LE(2), l.readUInt16LE(6)]).toEqual([1, 20, 1]);
    expect([m.readUInt32BE(10 + 2), m.readUInt16BE(10 + 6), m.toString('latin1', 18, 22)]).toEqual([21, 1, 'BOOT']);
    expect(l.toString('latin1', 30, 33)).toBe('EFI');
  });
});
