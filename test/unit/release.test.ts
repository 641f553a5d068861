import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePackageList } from '../../src/release/manifest.js';
import { compareVersions, diffPackages, renderNotes } from '../../src/release/notes.js';
import { interpretStatus } from '../../src/tools/gpg.js';
import { parseSha256Sums as parseSums } from '../../src/sha256sums.js';
import { asPrevious, testManifest } from '../support/manifest.js';

const FPR = '5BD1F34881928990045DF98439622DA795816D9B';

describe('release versions', () => {
  it('order semver (pre-releases first) and dates', () => {
    const sorted = ['v1.10.0', 'v1.2.0', 'v1.2.0-rc.2', 'v1.2.0-rc.10', 'v1.2.0-beta', 'v0.9.9'].sort(compareVersions);
    expect(sorted).toEqual(['v0.9.9', 'v1.2.0-beta', 'v1.2.0-rc.2', 'v1.2.0-rc.10', 'v1.2.0', 'v1.10.0']);
    expect(compareVersions('20261122', '20251231')).toBeGreaterThan(0);
  });
});

describe('package changes', () => {
  it('lists added, removed and upgraded packages by name', async () => {
    const before = parsePackageList('b\t1\na\t1\nc\t2\n');
    const after = parsePackageList('a\t1\nc\t3\nd\t1\n');
    expect(await diffPackages(before, after)).toEqual({
      added: [{ name: 'd', version: '1' }],
      removed: [{ name: 'b', version: '1' }],
      upgraded: [{ name: 'c', from: '2', to: '3' }],
      downgraded: [],
    });
  });
});

describe('gpg status lines', () => {
  const good = `[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG 39622DA795816D9B Test\n[GNUPG:] VALIDSIG ${FPR} 2026-11-23 1700000000 0 4 0 22 10 00 ${FPR}\n`;
  it('accept a good signature, and check the signer when a key is named', () => {
    expect(interpretStatus(good)).toEqual({ ok: true, fingerprint: FPR, primaryFingerprint: FPR });
    expect(interpretStatus(good, '0x39622DA795816D9B').ok).toBe(true);
    expect(interpretStatus(good, 'AAAAAAAAAAAAAAAA')).toMatchObject({ ok: false, reason: expect.stringContaining('not by AAAAAAAAAAAAAAAA') });
  });
  it('name a bad signature, an unknown key and garbage', () => {
    expect(interpretStatus('[GNUPG:] BADSIG 39622DA795816D9B Test\n')).toMatchObject({ ok: false, reason: expect.stringContaining('BAD signature') });
    expect(interpretStatus('[GNUPG:] ERRSIG 1111222233334444 22 10 00 1700000000 9 -\n[GNUPG:] NO_PUBKEY 1111222233334444\n')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('made by key 1111222233334444'),
    });
    expect(interpretStatus('[GNUPG:] NODATA 1\n')).toMatchObject({ ok: false });
  });
});

describe('SHA256SUMS parsing', () => {
  it('reads text and binary mode lines', () => {
    const a = 'a'.repeat(64);
    expect(parseSums(`${a}  x.iso\n${'B'.repeat(64)} *y.json\nnoise\n`)).toEqual(new Map([['x.iso', a], ['y.json', 'b'.repeat(64)]]));
  });
});

describe('release notes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'notes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const manifest = testManifest({ tools: { xorriso: 'xorriso 1.5.4' }, packages: [{ name: 'a', version: '2' }] });

  it('renders the shipped template with changes and the checklist', async () => {
    const notes = await renderNotes({ manifest, previous: await asPrevious({ ...manifest, version: 'v1.0.0', packages: [{ name: 'a', version: '1' }] }, manifest), signed: undefined });
    expect(notes).toMatch(/^# P v2\.0\.0$/m);
    expect(notes).toContain('Released 2023-11-14');
    expect(notes).toContain('- a 1 → 2');
    expect(notes).toContain('**not signed**');
    expect(notes).toContain('## Release checklist');
  });

  it('lists every payload item with its digest and source', async () => {
    const payload = [
      { kind: 'deb' as const, name: 'jq 1.6-2.1 amd64', digest: `sha256:${'a'.repeat(64)}`, source: 'http://mirror.invalid/pool/j/jq.deb', file: 'system/jq_1.6-2.1_amd64.deb' },
      { kind: 'image' as const, name: 'docker.io/longhornio/longhorn-manager:v1.7.1 (linux/amd64)', digest: `sha256:${'b'.repeat(64)}`, source: 'docker://longhornio/longhorn-manager:v1.7.1', file: 'images/x.tar' },
    ];
    const notes = await renderNotes({ manifest: { ...manifest, payload }, signed: undefined });
    expect(notes).toMatch(/^## Payload\n\n2 items in `\/opt\/novasphere\/packages\/`/m);
    expect(notes).toContain(`| deb | \`jq 1.6-2.1 amd64\` | \`sha256:${'a'.repeat(64)}\` | http://mirror.invalid/pool/j/jq.deb |\n`);
    expect(notes).toContain(`| image | \`docker.io/longhornio/longhorn-manager:v1.7.1 (linux/amd64)\` | \`sha256:${'b'.repeat(64)}\` | docker://longhornio/longhorn-manager:v1.7.1 |\n`);
    expect(await renderNotes({ manifest, signed: undefined })).not.toContain('## Payload');
  });

  it('uses another templates directory, and names a broken template', async () => {
    writeFileSync(join(dir, 'notes.md.hbs'), '{{version}} {{#if previous}}after {{previous.version}}{{else}}first{{/if}}\n');
    expect(await renderNotes({ manifest, signed: undefined, templatesDir: dir })).toBe('v2.0.0 first\n');
    writeFileSync(join(dir, 'notes.md.hbs'), '{{#if x}}unclosed\n');
    await expect(renderNotes({ manifest, signed: undefined, templatesDir: dir })).rejects.toThrow(/notes\.md\.hbs: /);
  });
});

describe('xattrs of a squashfs, from the pax headers sqfs2tar writes', () => {
  /** A minimal ustar/pax archive: entries with optional xattrs. */
  function tar(entries: { name: string; dir?: boolean; xattrs?: [string, string][] }[]): Buffer {
    const header = (name: string, type: string, size: number): Buffer => {
      const h = Buffer.alloc(512);
      h.write(name, 0, 'utf8');
      h.write('0000755\0', 100);
      h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
      h.write(type, 156);
      h.write('ustar\0' + '00', 257);
      return h;
    };
    const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
    const blocks: Buffer[] = [];
    for (const e of entries) {
      if (e.xattrs?.length) {
        const records = e.xattrs.map(([k, v]) => {
          const body = ` SCHILY.xattr.${k}=${v}\n`;
          let len = body.length + 1;
          while (String(len).length + body.length !== len) len++;
          return `${len}${body}`;
        });
        const data = Buffer.from(records.join(''));
        blocks.push(header('./PaxHeaders/x', 'x', data.length), pad(data));
      }
      blocks.push(header(e.name, e.dir ? '5' : '0', 0));
    }
    return Buffer.concat([...blocks, Buffer.alloc(1024)]);
  }

  it('reads them per path and names the first difference', async () => {
    const { tarXattrs, firstXattrDifference } = await import('../../src/release/compare.js');
    const dir = mkdtempSync(join(tmpdir(), 'xattr-'));
    try {
      writeFileSync(join(dir, 'a.tar'), tar([{ name: './', dir: true, xattrs: [['trusted.overlay.uuid', 'AAAA'], ['trusted.overlay.impure', 'y']] }, { name: './etc/', dir: true }, { name: './etc/x' }]));
      writeFileSync(join(dir, 'b.tar'), tar([{ name: './', dir: true, xattrs: [['trusted.overlay.uuid', 'BBBB'], ['trusted.overlay.impure', 'y']] }, { name: './etc/', dir: true }, { name: './etc/x' }]));
      const a = tarXattrs(join(dir, 'a.tar'));
      expect(a).toEqual(new Map([['/', [['trusted.overlay.uuid', Buffer.from('AAAA').toString('hex')], ['trusted.overlay.impure', '79']]]]));
      expect(firstXattrDifference(a, tarXattrs(join(dir, 'b.tar')))).toEqual({ path: '/', what: 'xattr trusted.overlay.uuid differs' });
      expect(firstXattrDifference(a, a)).toBeUndefined();
      expect(firstXattrDifference(a, new Map([['/', [...a.get('/')!].reverse()]]))).toEqual({ path: '/', what: 'the same xattrs in another order' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
