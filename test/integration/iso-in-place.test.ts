/**
 * The in-place ISO writer (src/image/iso-in-place.ts) against xorriso's modify mode, on the fixture bases laid out
 * like Ubuntu 22.04 (grub2 MBR, GPT, appended EFI partition, -partition_offset 16) and like Debian live (isohybrid
 * MBR, EFI image inside the ISO): the same edits through both writers, then everything read back by xorriso, sfdisk
 * and dd, never by the writer's own reader. The Rock Ridge tree, the Joliet tree and the partition-relative tree
 * must hold what xorriso's output holds; the partition tables must verify; the boot images must be the base's bytes.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, sh, tempDir } from '../support/cli.js';
import { needs, requireFile, requireRoot, requireTools } from '../support/needs.js';
import { expandChanges, type IsoTreeChanges } from '../../src/iso-tree-changes.js';
import { headKey, planInPlace, writeInPlace, type InPlacePlan } from '../../src/image/iso-in-place.js';
import { headHashMemo } from '../../src/stage-cache.js';
import { parseDirExtent } from '../../src/image/iso-records.js';
import { modifyIso } from '../../src/tools/xorriso.js';
import { sha256File } from '../../src/file-hash.js';

const fixtureIso = (variant: 'jammy' | 'live'): string => join(FIXTURES, `fixture-${variant}.iso`);
const requireFixtures = () => requireFile(fixtureIso('jammy'), 'scripts/make-fixture-iso --variant all, as root');

const CASES = [
  { variant: 'jammy', squashfsDir: 'casper', squashfs: 'casper/ubuntu-server-minimal.squashfs', remove: ['casper/filesystem.size', 'dists/jammy/restricted'], catalog: 'boot.catalog', biosImage: 'eltorito.img', partitionTree: true },
  { variant: 'live', squashfsDir: 'live', squashfs: 'live/filesystem.squashfs', remove: ['live/filesystem.size', 'isolinux/utilities.cfg'], catalog: 'isolinux/boot.cat', biosImage: 'isolinux.bin', partitionTree: false },
] as const;

/** `lsdl` lines without the date columns: mode, links, owner, group, size, path. */
function listing(iso: string, ...pre: string[]): string[] {
  return sh('xorriso', [...pre, '-indev', iso, '-find', '/', '-exec', 'lsdl'])
    .split('\n')
    .filter((l) => /^[-dlecbps][-rwxsStT]{9}/.test(l))
    .map((l) => {
      const f = l.split(/\s+/);
      return [...f.slice(0, 5), f.slice(8).join(' ')].join(' ');
    })
    .sort();
}

function bootImages(iso: string): { platform: string; bytes: Buffer }[] {
  const fd = openSync(iso, 'r');
  try {
    return sh('xorriso', ['-indev', iso, '-report_el_torito', 'plain'])
      .split('\n')
      .flatMap((l) => {
        // El Torito boot img :   2  UEFI  y   none  0x0000  0x00   2496       24366
        const m = /^El Torito boot img\s*:\s*\d+\s+(\S+)\s+\S+\s+\S+\s+\S+\s+\S+\s+(\d+)\s+(\d+)/.exec(l);
        if (!m) return [];
        const bytes = Buffer.alloc(Number(m[2]) * 512);
        readSync(fd, bytes, 0, bytes.length, Number(m[3]) * 2048);
        return [{ platform: m[1]!, bytes }];
      });
  } finally {
    closeSync(fd);
  }
}

describe.each(CASES)('in-place write over fixture-$variant', needs(requireRoot('xorriso extraction keeps owners'), requireFixtures(), requireTools('xorriso', 'diff', 'sfdisk', 'dd')), (c) => {
  let dir: string;
  let base: string;
  let edits: IsoTreeChanges;
  let plan: InPlacePlan;
  const out = (): string => join(dir, 'in-place.iso');
  const ref = (): string => join(dir, 'xorriso.iso');
  const extract = (iso: string, name: string): string => {
    const to = join(dir, name);
    sh('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', to]);
    return to;
  };

  beforeAll(async () => {
    dir = tempDir(`isob-in-place-${c.variant}-`);
    base = fixtureIso(c.variant);
    const ch = join(dir, 'changes');
    const put = (rel: string, text: string | Buffer): string => {
      mkdirSync(join(ch, rel, '..'), { recursive: true });
      writeFileSync(join(ch, rel), text);
      return join(ch, rel);
    };
    put('md5sum.txt', 'replaced sums\n');
    put(`${c.squashfsDir}/zz-new.layer.squashfs`, Buffer.alloc(300_001, 7));
    put('brand-new/dir/with a long name that is not 8.3.txt', 'deep\n');
    chmodSync(put('brand-new/run.sh', '#!/bin/sh\n'), 0o755);
    put('brand-new/empty', '');
    edits = {
      removed: [...c.remove],
      mapped: [
        { disk: join(ch, 'brand-new'), iso: 'brand-new' },
        { disk: join(ch, `${c.squashfsDir}/zz-new.layer.squashfs`), iso: `${c.squashfsDir}/zz-new.layer.squashfs` },
        { disk: join(ch, 'md5sum.txt'), iso: 'md5sum.txt' },
      ],
    };
    const expanded = expandChanges(edits);
    if ('reason' in expanded) throw new Error(expanded.reason);
    const planned = planInPlace({ base, changes: expanded, volumeId: 'IN-PLACE 1', epochSeconds: 1_700_000_000 });
    if ('reason' in planned) throw new Error(planned.reason);
    plan = planned;
    await modifyIso({ base, output: ref(), bootSetup: [], volumeId: 'IN-PLACE 1', fileDate: '2023111422132000', changes: edits });
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('returns the sha256 of what it wrote, and writes the same bytes twice', async () => {
    const sha = (await writeInPlace(plan, out())).sha256;
    expect(sha).toBe(await sha256File(out()));
    const again = join(dir, 'again.iso');
    expect((await writeInPlace(plan, again)).sha256).toBe(sha);
    rmSync(again);
    // Every byte of the base's ISO 9660 data outside the patched sectors is where it was.
    expect(plan.at).toBeGreaterThan(0.9 * (readFileSync(base).length - plan.tail.length));
  });

  it('keeps the sectors before its insertion point when only file contents change, and resumes their hash from a memo', async () => {
    // The same edits with other contents and sizes: directories first, so no address before `at` moves.
    const other = join(dir, 'other');
    mkdirSync(join(other, c.squashfsDir), { recursive: true });
    writeFileSync(join(other, 'md5sum.txt'), 'other sums, longer than the first ones\n');
    writeFileSync(join(other, `${c.squashfsDir}/zz-new.layer.squashfs`), Buffer.alloc(200_123, 9));
    const expanded = expandChanges({
      removed: edits.removed,
      mapped: edits.mapped.map((m) => (m.iso === 'brand-new' ? m : { ...m, disk: join(other, m.iso) })),
    });
    if ('reason' in expanded) throw new Error(expanded.reason);
    const changed = planInPlace({ base, changes: expanded, volumeId: 'IN-PLACE 1', epochSeconds: 1_700_000_000 });
    if ('reason' in changed) throw new Error(changed.reason);
    const key = 'f'.repeat(64);
    expect(headKey(changed, key)).toBe(headKey(plan, key));
    expect(headKey(changed, 'e'.repeat(64))).not.toBe(headKey(plan, key));

    const work = join(dir, 'memo-work');
    const first = await writeInPlace(plan, join(dir, 'memo-1.iso'), undefined, undefined, headHashMemo(work, headKey(plan, key)));
    expect(first.headFromMemo).toBe(0);
    const second = await writeInPlace(changed, join(dir, 'memo-2.iso'), undefined, undefined, headHashMemo(work, headKey(changed, key)));
    expect(second.headFromMemo).toBe(changed.at);
    // The digest from the resumed state is the file's, read back by openssl.
    expect(second.sha256).toBe(sh('openssl', ['dgst', '-sha256', '-r', join(dir, 'memo-2.iso')]).slice(0, 64));
    expect(second.sha256).not.toBe(first.sha256);
    // A damaged memo is ignored: the head is hashed again, and the digest is still the file's.
    const [memoFile] = readdirSync(join(work, 'stage-cache')).filter((n) => n.startsWith('head-'));
    const m = JSON.parse(readFileSync(join(work, 'stage-cache', memoFile!), 'utf8')) as { state: string };
    writeFileSync(join(work, 'stage-cache', memoFile!), JSON.stringify({ ...m, state: `00${m.state.slice(2)}` }));
    const third = await writeInPlace(changed, join(dir, 'memo-3.iso'), undefined, undefined, headHashMemo(work, headKey(changed, key)));
    expect(third.headFromMemo).toBe(0);
    expect(third.sha256).toBe(second.sha256);
    for (const f of ['memo-1.iso', 'memo-2.iso', 'memo-3.iso']) rmSync(join(dir, f));
  });

  it('holds the tree xorriso writes: Rock Ridge names, modes, sizes and contents', () => {
    expect(listing(out())).toEqual(listing(ref()));
    // Two files differ by design: the boot catalog (xorriso moved the boot images, the in-place writer moved the
    // appended partition the EFI entry points into) and the BIOS boot image, whose boot info table xorriso rewrites
    // for the image's new block (it stays at its block here: the next test finds the base's bytes in it).
    const excludes = [c.catalog.split('/').pop()!, c.biosImage].map((n) => `--exclude=${n}`);
    expect(sh('diff', ['-r', '--no-dereference', ...excludes, extract(ref(), 'ref-tree'), extract(out(), 'out-tree')])).toBe('');
    expect(readFileSync(join(dir, 'out-tree/brand-new/dir/with a long name that is not 8.3.txt'), 'utf8')).toBe('deep\n');
  });

  it('holds the same Joliet tree, and the volume id in both descriptors', () => {
    expect(listing(out(), '-read_fs', 'norock')).toEqual(listing(ref(), '-read_fs', 'norock'));
    expect(sh('xorriso', ['-indev', out(), '-pvd_info'])).toMatch(/^Volume Id\s*:\s*IN-PLACE 1$/m);
  });

  it(c.partitionTree ? 'keeps the tree of partition 1 (-partition_offset 16) in step with the main one' : 'edits the one descriptor set the base has (no -partition_offset)', () => {
    expect(plan.stats.trees).toBe(c.partitionTree ? 4 : 2);
    if (!c.partitionTree) return;
    const part = join(dir, 'partition1.img');
    sh('dd', [`if=${out()}`, `of=${part}`, 'bs=2048', 'skip=16', 'status=none']);
    // xorriso marks the boot catalog "e" where a boot record names it; partition 1 starts behind that record.
    const plain = (lines: string[]): string[] => lines.map((l) => l.replace(/^e/, '-')).sort();
    expect(listing(part)).toEqual(plain(listing(out())));
    expect(listing(part, '-read_fs', 'norock')).toEqual(plain(listing(out(), '-read_fs', 'norock')));
    rmSync(part);
  });

  it('keeps the leading blocks of a squashfs grown behind its data where the base has them, as a two-extent file', async () => {
    // What squashfs-merge.ts makes of the base's squashfs: its bytes up to the tables, a new superblock, more behind.
    const baseImage = join(dir, 'base-image.sq');
    sh('xorriso', ['-osirrox', 'on', '-indev', base, '-extract', `/${c.squashfs}`, baseImage]);
    const old = readFileSync(baseImage);
    const keep = old.length - 3000;
    const grown = Buffer.concat([Buffer.alloc(96, 0x5a), old.subarray(96, keep), Buffer.alloc(777_777, 3)]);
    const grownFile = join(dir, 'grown.sq');
    writeFileSync(grownFile, grown);
    const planned = planInPlace({ base, volumeId: 'GROWN', epochSeconds: 1_700_000_000, changes: { removed: [], dirs: [], files: [{ iso: c.squashfs, disk: grownFile, size: grown.length, mode: 0o100444, keep }] } });
    if ('reason' in planned) throw new Error(planned.reason);
    expect(planned.kept).toEqual([{ iso: c.squashfs, bytes: Math.floor(keep / 2048) * 2048 }]);
    expect(planned.grow).toBeLessThan(2 << 20); // only the bytes behind the kept blocks are inserted
    const iso = join(dir, 'grown.iso');
    const { sha256 } = await writeInPlace(planned, iso);
    expect(sha256).toBe(sh('openssl', ['dgst', '-sha256', '-r', iso]).slice(0, 64));
    // xorriso reads it back whole, through Rock Ridge and through Joliet; the first extent is the base's.
    const lbas = (image: string): string[][] => sh('xorriso', ['-indev', image, '-find', `/${c.squashfs}`, '-exec', 'report_lba']).split('\n').filter((l) => l.startsWith('File data lba')).map((l) => l.split(',').map((f) => f.trim()));
    const [first, second] = lbas(iso);
    expect(first?.[1]).toBe(lbas(base)[0]?.[1]);
    expect(Number(second?.[1])).toBeGreaterThan(Number(first?.[1]));
    for (const pre of [[], ['-rockridge', 'off']]) {
      const back = join(dir, `grown-back-${pre.length}.sq`);
      sh('xorriso', [...pre, '-osirrox', 'on', '-indev', iso, '-extract', `/${c.squashfs}`, back]);
      expect(readFileSync(back).equals(grown), `read back with ${pre.join(' ') || 'Rock Ridge'}`).toBe(true);
      rmSync(back);
    }
    // A file that does not start with the base file's bytes is not split: the planner says why.
    const other = Buffer.from(grown);
    other[5000] = other[5000]! ^ 1;
    writeFileSync(grownFile, other);
    const refused = planInPlace({ base, volumeId: 'GROWN', epochSeconds: 1_700_000_000, changes: { removed: [], dirs: [], files: [{ iso: c.squashfs, disk: grownFile, size: other.length, mode: 0o100444, keep }] } });
    expect('reason' in refused ? refused.reason : 'planned').toMatch(/bytes at 2048 differ/);
    for (const f of [baseImage, grownFile, iso]) rmSync(f);
  });

  it('has partition tables sfdisk verifies as it verifies the base, and boot images with the base bytes', () => {
    const verify = (iso: string): string => sh('bash', ['-c', 'sfdisk --verify "$1" 2>&1 | tail -n +2 || true', 'v', iso]).replace(/\d+/g, 'N');
    expect(verify(out())).toBe(verify(base));
    const report = sh('xorriso', ['-indev', out(), '-report_system_area', 'plain']);
    expect(report).toMatch(new RegExp(`^ISO image size/512 : ${plan.size / 512}$`, 'm'));
    const want = bootImages(base);
    const got = bootImages(out());
    expect(got.map((b) => b.platform)).toEqual(want.map((b) => b.platform));
    got.forEach((b, i) => expect(b.bytes.equals(want[i]!.bytes), `${b.platform} boot image`).toBe(true));
  });
});

describe('in-place writer: what it leaves to xorriso, with the reason', needs(requireFixtures()), () => {
  const base = fixtureIso('jammy');
  const live = fixtureIso('live');
  let dir: string;
  beforeAll(() => {
    dir = tempDir('isob-in-place-refuse-');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, size: number): string => {
    const p = join(dir, name);
    writeFileSync(p, Buffer.alloc(size, 1));
    return p;
  };
  const reason = (iso: string, files: { iso: string; size: number }[], removed: string[] = []): string => {
    const r = planInPlace({ base: iso, volumeId: 'X', epochSeconds: 0, changes: { removed, dirs: [], files: files.map((f) => ({ ...f, disk: file('f', f.size), mode: 0o100444 })) } });
    return 'reason' in r ? r.reason : 'planned';
  };

  it('a changed El Torito boot image or partition target', () => {
    expect(reason(base, [{ iso: 'boot/grub/i386-pc/eltorito.img', size: 4096 }])).toMatch(/eltorito\.img is an El Torito boot image and this build changes it/);
    expect(reason(live, [{ iso: 'boot/grub/efi.img', size: 4096 }])).toMatch(/efi\.img is (a partition|an El Torito boot image) and this build changes it/);
    expect(reason(live, [], ['boot'])).toMatch(/efi\.img is .* and this build changes it/);
  });

  it('a replaced file whose old bytes would be dead space', () => {
    expect(reason(base, [{ iso: 'casper/ubuntu-server-minimal.squashfs', size: 1000 }])).toMatch(/dead space/);
    expect(reason(base, [{ iso: 'casper/install-sources.yaml', size: 1000 }])).toBe('planned');
  });

  it('a directory loop in a crafted base (/boot/grub pointing back at /boot)', () => {
    const crafted = join(dir, 'loop.iso');
    const img = readFileSync(base);
    const pvdRoot = 16 * 2048 + 156;
    const dirRecords = (lba: number, size: number): { name: string; at: number; lba: number; size: number }[] => {
      const parsed = parseDirExtent(img.subarray(lba * 2048, lba * 2048 + size), 'rockridge', () => Buffer.alloc(0));
      if (typeof parsed === 'string') throw new Error(parsed);
      return parsed.records.map((r) => ({ name: r.name, at: r.raw.byteOffset - img.byteOffset, lba: r.lba, size: r.size }));
    };
    const boot = dirRecords(img.readUInt32LE(pvdRoot + 2), img.readUInt32LE(pvdRoot + 10)).find((r) => r.name === 'boot')!;
    const grub = dirRecords(boot.lba, boot.size).find((r) => r.name === 'grub')!;
    img.writeUInt32LE(boot.lba, grub.at + 2);
    img.writeUInt32BE(boot.lba, grub.at + 6);
    writeFileSync(crafted, img);
    expect(reason(crafted, [{ iso: 'md5sum.txt', size: 10 }])).toMatch(/a loop\?/);
  });

  it('a symlink among the edits, and a name that is a directory on one side', () => {
    const link = join(dir, 'link');
    symlinkSync('target', link);
    expect(expandChanges({ removed: [], mapped: [{ disk: link, iso: 'casper/link' }] })).toEqual({ reason: '/casper/link is a symlink' });
    expect(reason(base, [{ iso: 'casper', size: 10 }])).toMatch(/is a directory in the base and a file in the build/);
  });
});
