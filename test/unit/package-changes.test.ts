/**
 * Package changes in the release notes follow dpkg's version order (asked of dpkg itself): epochs, `~` sorting before
 * everything, Debian revisions; a downgrade is called one, and 1.10 is newer than 1.9.
 */
import { describe, expect, it } from 'vitest';
import { diffPackages, renderNotes } from '../../src/release/notes.js';
import type { Package } from '../../src/release/manifest.js';
import { compareDebianVersions } from '../../src/tools/dpkg-versions.js';
import { asPrevious, testManifest } from '../support/manifest.js';

const pkgs = (list: Record<string, string>): Package[] => Object.entries(list).map(([name, version]) => ({ name, version }));

describe('Debian version order (dpkg --compare-versions, one batch)', () => {
  it('orders epochs, tildes and revisions as dpkg does', async () => {
    const pairs: [string, string][] = [
      ['1:1.0', '2.0'], // an epoch wins over any upstream version
      ['1.0~rc1', '1.0'], // ~ sorts before the end of the string
      ['1.0-1', '1.0-1ubuntu1'],
      ['1.9', '1.10'], // numbers, not text
      ['1.0', '0:1.0'], // epoch 0 is no epoch
      ['2.36-9+deb12u4', '2.36-9+deb12u3'],
    ];
    expect(await compareDebianVersions(pairs)).toEqual([1, -1, -1, -1, 0, 1]);
    expect(await compareDebianVersions([])).toEqual([]);
  });

  it('refuses what is not a version instead of guessing', async () => {
    await expect(compareDebianVersions([['1.0 2', '1.0']])).rejects.toThrow(/is not a Debian package version/);
    await expect(compareDebianVersions([['1:', '1.0']])).rejects.toThrow(/dpkg cannot compare the package versions "1:" and "1\.0"/);
  });
});

describe('package changes between releases', () => {
  it('sorts each change into upgraded or downgraded by dpkg order, not by text', async () => {
    const before = pkgs({ tzdata: '2.0', libc6: '1.0~rc1', curl: '1.0-1', k3s: '1.10', same: '1.0', gone: '1' });
    const after = pkgs({ tzdata: '1:1.0', libc6: '1.0', curl: '1.0-1ubuntu1', k3s: '1.9', same: '0:1.0', fresh: '3' });
    expect(await diffPackages(before, after)).toEqual({
      added: [{ name: 'fresh', version: '3' }],
      removed: [{ name: 'gone', version: '1' }],
      upgraded: [
        { name: 'curl', from: '1.0-1', to: '1.0-1ubuntu1' },
        { name: 'libc6', from: '1.0~rc1', to: '1.0' },
        { name: 'tzdata', from: '2.0', to: '1:1.0' },
      ],
      downgraded: [{ name: 'k3s', from: '1.10', to: '1.9' }],
    });
  });

  it('the notes list upgrades and downgrades under their own headings', async () => {
    const manifest = testManifest({ packages: pkgs({ a: '1:0.5', b: '1.9' }) });
    const previous = await asPrevious({ ...manifest, version: 'v1.0.0', packages: pkgs({ a: '2.0', b: '1.10' }) }, manifest);
    const notes = await renderNotes({ manifest, previous, signed: undefined });
    expect(notes).toMatch(/: 2 changed\./);
    expect(notes).toMatch(/^Upgraded:\n- a 2\.0 → 1:0\.5\n\nDowngraded:\n- b 1\.10 → 1\.9$/m);
  });
});
