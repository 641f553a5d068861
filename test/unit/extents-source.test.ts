import { describe, expect, it } from 'vitest';
import { bufferSource, extentsSource } from '../../src/image/source.js';

describe('extentsSource (a file in several extents read as one)', () => {
  const image = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
  const parent = bufferSource(image, 'image');
  const file = extentsSource(parent, [{ offset: 40, length: 10 }, { offset: 0, length: 0 }, { offset: 5, length: 20 }, { offset: 90, length: 10 }], 'file');
  const flat = Buffer.concat([image.subarray(40, 50), image.subarray(5, 25), image.subarray(90, 100)]);

  it('reads within, across and at the ends of the extents', async () => {
    expect(file.size).toBe(40);
    for (const [pos, len] of [[0, 40], [0, 10], [8, 4], [9, 25], [30, 10], [39, 1], [40, 0]] as const) {
      expect(Buffer.compare(await file.read(pos, len, 'test'), flat.subarray(pos, pos + len)), `${pos}+${len}`).toBe(0);
    }
  });

  it('slices across extents, and refuses what lies outside', async () => {
    const s = file.slice(8, 25, 'slice');
    expect(s.size).toBe(25);
    expect(Buffer.compare(await s.read(0, 25, 'test'), flat.subarray(8, 33))).toBe(0);
    await expect(file.read(35, 6, 'the end')).rejects.toThrow(/lie outside the file/);
    expect(() => file.slice(30, 11, 'too far')).toThrow(/outside the file/);
    expect(() => extentsSource(parent, [{ offset: 95, length: 10 }], 'bad')).toThrow(/outside the image/);
  });
});
