/** The one SHA256SUMS parser, used by the profile loader (base.sha256sums) and `verify`. */
import { describe, expect, it } from 'vitest';
import { findSha256, parseSha256Sums } from '../../src/sha256sums.js';

const a = 'a'.repeat(64);
const b = 'B'.repeat(64);

describe('parseSha256Sums', () => {
  it('reads GNU text and binary lines and BSD lines, ./ dropped, other lines ignored', () => {
    const text = `${a}  x.iso\n${b} *./y.json\r\nSHA256 (z.md) = ${a}\nnoise\nMD5 (x.iso) = 0123\n`;
    expect(parseSha256Sums(text)).toEqual(new Map([['x.iso', a], ['y.json', 'b'.repeat(64)], ['z.md', a]]));
  });

  it('keeps the first line for a name', () => {
    expect(findSha256(`${a}  x.iso\n${b}  x.iso\n`, 'x.iso')).toBe(a);
    expect(findSha256(`${a}  x.iso\n`, 'y.iso')).toBeUndefined();
  });
});
