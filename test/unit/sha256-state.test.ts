import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { resumableSha256, resumeSha256, sha256AddonPath, sha256StateUnavailable } from '../../src/sha256-state.js';
import { needs, requireFile } from '../support/needs.js';

const data = randomBytes(3 * 1024 * 1024 + 17);
const expected = createHash('sha256').update(data).digest('hex');

describe('resumable sha256 (native/sha256-state.c)', needs(requireFile(sha256AddonPath(), 'npm run build, with gcc and libc6-dev installed (scripts/setup)')), () => {
  it('loads, and hashes like crypto in pieces of any size', () => {
    expect(sha256StateUnavailable()).toBeUndefined();
    const h = resumableSha256();
    for (let at = 0, step = 1; at < data.length; at += step, step = step * 3 + 1) h.update(data.subarray(at, Math.min(at + step, data.length)));
    expect(h.digest()).toBe(expected);
  });

  it('goes on from a saved state, at a block boundary or inside a block, as often as asked', () => {
    for (const split of [0, 64, 1000, 2048 * 517, data.length]) {
      const h = resumableSha256();
      h.update(data.subarray(0, split));
      const saved = h.save()!;
      h.update(Buffer.from('not part of it'));
      for (let i = 0; i < 2; i++) {
        const r = resumeSha256(saved)!;
        r.update(data.subarray(split));
        expect(r.digest()).toBe(expected);
      }
    }
  });

  it('refuses a state of the wrong size, and the addon rejects what is not a state buffer', () => {
    expect(resumeSha256(Buffer.alloc(7))).toBeUndefined();
    const h = resumableSha256();
    expect(() => h.update('text' as unknown as Uint8Array)).toThrow(/expected a Buffer/);
  });
});
