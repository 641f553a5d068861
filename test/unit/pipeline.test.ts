/** Pure parts of the pipeline: argument building, report parsing, layout detection, version rules. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { validateVersion } from '../../src/pipeline/version.js';
import { detectLayout } from '../../src/layout.js';
import { md5Exclusions } from '../../src/stages/md5sum.js';
import { pickOffload } from '../../src/image/md5sum.js';
import { splitShellWords } from '../../src/tools/shell-words.js';
import { mksquashfsArgs } from '../../src/tools/squashfs.js';
import { bootCatalogPath, modifyArgs, parseBootImages, xorrisoDate } from '../../src/tools/xorriso.js';

const UBUNTU_REPLAY = `-V 'Ubuntu-Server 22.04.3 LTS amd64'
--modification-date='2023080711381800'
--grub2-mbr --interval:local_fs:0s-15s:zero_mbrpt,zero_gpt:'/isos/base.iso'
--protective-msdos-label
-partition_cyl_align off
-partition_offset 16
--mbr-force-bootable
-append_partition 2 28732ac11ff8d211ba4b00a0c93ec93b --interval:local_fs:3848588d-3858655d::'/isos/base.iso'
-appended_part_as_gpt
-iso_mbr_part_type a2a0d0ebe5b9334487c068b6b72699c7
-c '/boot.catalog'
-b '/boot/grub/i386-pc/eltorito.img'
-no-emul-boot
-boot-load-size 4
-boot-info-table
--grub2-boot-info
-eltorito-alt-boot
-e '--interval:appended_partition_2_start_962147s_size_10068d:all::'
-no-emul-boot
-boot-load-size 10068
`;

const DEBIAN_REPLAY = `-V 'Debian 12 amd64'
--modification-date='2023061011300000'
-isohybrid-mbr --interval:local_fs:0s-15s:zero_mbrpt:'/isos/debian.iso'
-c '/isolinux/boot.cat'
-b '/isolinux/isolinux.bin'
-no-emul-boot
-boot-load-size 4
-boot-info-table
-eltorito-alt-boot
-e '/boot/grub/efi.img'
-no-emul-boot
-isohybrid-gpt-basdat
`;

describe('boot setup replay', () => {
  it('splits xorriso as_mkisofs output like a shell, including quotes inside a word', () => {
    const words = splitShellWords(UBUNTU_REPLAY);
    expect(words).toContain('--interval:local_fs:0s-15s:zero_mbrpt,zero_gpt:/isos/base.iso');
    expect(words).toContain('Ubuntu-Server 22.04.3 LTS amd64');
    expect(words).toContain('--modification-date=2023080711381800');
    expect(splitShellWords(`a "b c" d\\ e 'f'"g"`)).toEqual(['a', 'b c', 'd e', 'fg']);
  });

  it('writes over the base in modify mode: boot setup replayed, the base\'s UUID kept, edits applied, dates fixed', () => {
    const changes = { removed: ['casper/old.squashfs'], mapped: [{ disk: '/w/iso-changes/md5sum.txt', iso: 'md5sum.txt' }] };
    const args = modifyArgs({ base: '/isos/base.iso', output: '/r/x.iso.partial', bootSetup: splitShellWords(UBUNTU_REPLAY), volumeId: 'NOVA', fileDate: '2023111422132000', changes });
    expect(args.slice(0, 4)).toEqual(['-iso_rr_pattern', 'off', '-disk_pattern', 'off']);
    expect(args.slice(4, 13)).toEqual(['-indev', '/isos/base.iso', '-outdev', '/r/x.iso.partial', '-boot_image', 'any', 'replay', '-volid', 'NOVA']);
    expect(args).not.toContain('Ubuntu-Server 22.04.3 LTS amd64');
    const pairs = (flag: string): string[][] => args.flatMap((a, i) => (a === flag ? [args.slice(i + 1, i + 3)] : []));
    expect(pairs('-volume_date')).toEqual([['all_file_dates', '2023111422132000'], ['uuid', '2023080711381800']]);
    expect(pairs('-rm_r')).toEqual([['/casper/old.squashfs', '--']]);
    expect(pairs('-map')).toEqual([['/w/iso-changes/md5sum.txt', '/md5sum.txt']]);
    // Removals come before the maps (a type change: the directory goes, then the file comes), the rules after both.
    expect(args.indexOf('-rm_r')).toBeLessThan(args.indexOf('-map'));
    expect(args.indexOf('mkisofs_r')).toBeGreaterThan(args.indexOf('-map'));
    expect(args.slice(-4)).toEqual(['-boot_image', 'any', 'gpt_disk_guid=modification-date', '-commit']);
    // A base without a modification date gets the build's epoch as its UUID (not the build clock).
    const plain = modifyArgs({ base: '/b.iso', output: '/o', bootSetup: [], volumeId: 'V', fileDate: '2023111422132000', changes: { removed: [], mapped: [] } });
    expect(plain.slice(plain.indexOf('uuid'), plain.indexOf('uuid') + 2)).toEqual(['uuid', '2023111422132000']);
  });

  it('knows which files xorriso writes or patches, for either boot layout', () => {
    expect(bootCatalogPath(splitShellWords(UBUNTU_REPLAY))).toBe('/boot.catalog');
    expect([...md5Exclusions(splitShellWords(UBUNTU_REPLAY))].sort()).toEqual(['boot.catalog', 'boot/grub/i386-pc/eltorito.img', 'md5sum.txt']);
    expect([...md5Exclusions(splitShellWords(DEBIAN_REPLAY))].sort()).toEqual(['isolinux/boot.cat', 'isolinux/isolinux.bin', 'md5sum.txt']);
  });

  it('reads the El Torito report', () => {
    const report = [
      'El Torito catalog  : 1234  1',
      'El Torito images   :   N  Pltf  B   Emul  Ld_seg  Hdpt  Ldsiz         LBA',
      'El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4        1350',
      'El Torito boot img :   2  UEFI  y   none  0x0000  0x00  10068     962147',
      'El Torito img path :   1  /boot/grub/i386-pc/eltorito.img',
    ].join('\n');
    expect(parseBootImages(report)).toEqual([{ platform: 'BIOS', path: '/boot/grub/i386-pc/eltorito.img' }, { platform: 'UEFI' }]);
  });

  it('formats dates for xorriso in UTC', () => {
    expect(xorrisoDate(1700000000)).toBe('2023111422132000');
  });
});

describe('mksquashfs arguments', () => {
  it('uses every core, fixed times and the compressor level when given', () => {
    expect(mksquashfsArgs('/r', '/o.sqfs', { compression: 'zstd', level: 15, epochSeconds: 1700000000 }, 2)).toEqual([
      '/r', '/o.sqfs', '-noappend', '-comp', 'zstd', '-Xcompression-level', '15', '-processors', '2', '-mkfs-time', '1700000000', '-all-time', '1700000000',
    ]);
    expect(mksquashfsArgs('/r', '/o', { compression: 'xz', epochSeconds: 1 }, 8)).not.toContain('-Xcompression-level');
    expect(mksquashfsArgs('/r', '/o', { compression: 'xz', epochSeconds: 1, plainTables: true }, 8)).toEqual(expect.arrayContaining(['-noI', '-noX']));
  });
});

describe('layout detection', () => {
  const trees: string[] = [];
  afterEach(() => {
    for (const t of trees.splice(0)) rmSync(t, { recursive: true, force: true });
  });
  const make = (files: Record<string, string>): string => {
    const tree = mkdtempSync(join(tmpdir(), 'layout-'));
    trees.push(tree);
    for (const [f, content] of Object.entries(files)) {
      mkdirSync(join(tree, f, '..'), { recursive: true });
      writeFileSync(join(tree, f), content);
    }
    return tree;
  };

  it('finds Ubuntu layered casper and the layer the installer copies by default', () => {
    const t = make({
      'casper/ubuntu-server-minimal.squashfs': '',
      'casper/ubuntu-server-minimal.ubuntu-server.squashfs': '',
      'casper/ubuntu-server-minimal.ubuntu-server.installer.squashfs': '',
      'casper/install-sources.yaml':
        '- default: false\n  id: ubuntu-server-minimal\n  path: ubuntu-server-minimal.squashfs\n  type: fsimage\n' +
        '- default: true\n  id: ubuntu-server\n  path: ubuntu-server-minimal.ubuntu-server.squashfs\n  type: fsimage-layered\n',
    });
    expect(detectLayout(t, 'auto')).toEqual({
      kind: 'casper-layered',
      squashfs: 'casper/ubuntu-server-minimal.ubuntu-server.squashfs',
      lowers: ['casper/ubuntu-server-minimal.squashfs'],
      sizeFile: 'casper/ubuntu-server-minimal.ubuntu-server.size',
      manifestFile: 'casper/ubuntu-server-minimal.ubuntu-server.manifest',
      installSourceId: 'ubuntu-server',
      strategy: 'repack',
    });
    expect(detectLayout(t, 'auto', 'ubuntu-server-minimal.squashfs').lowers).toEqual([]);
  });

  it('finds single casper and Debian live, and refuses an ISO without a rootfs', () => {
    expect(detectLayout(make({ 'casper/filesystem.squashfs': '' }), 'auto').kind).toBe('casper');
    expect(detectLayout(make({ 'live/filesystem.squashfs': '' }), 'auto').manifestFile).toBe('live/filesystem.packages');
    expect(() => detectLayout(make({ 'README.txt': '' }), 'auto')).toThrow(/has no rootfs squashfs/);
    expect(() => detectLayout(make({ 'live/filesystem.squashfs': '' }), 'casper')).toThrow(/casper\/filesystem.squashfs/);
  });
});

describe('release versions', () => {
  it.each(['v1.0.0', 'v1.2.0-rc.1', 'v10.20.30+build.5', '20261122'])('accepts %s', (v) => {
    expect(validateVersion(v)).toBe(v);
  });
  it.each(['1.0.0', 'v1.0', 'v01.0.0', 'latest', '20261350', '2026112', 'v1.0.0/../x'])('refuses %s', (v) => {
    expect(() => validateVersion(v)).toThrow(/is not a release version/);
  });
});

describe('pickOffload (md5s hashed on the other core)', () => {
  it('moves the largest files while that shortens the longer side', () => {
    // 45 MB here, 18 MB of sha256 work there: the 22 MB file goes, the small ones stay
    expect(pickOffload([1e6, 22e6, 2e6, 20e6], 18e6)).toEqual([1]);
    // nothing on the other core yet: about half goes
    expect(pickOffload([10, 10, 10, 10], 0).length).toBe(2);
  });
  it('keeps everything when the other core is busy enough, and never moves a file stored in pieces', () => {
    expect(pickOffload([5, 5], 100)).toEqual([]);
    expect(pickOffload([-1, 3], 0)).toEqual([]);
    expect(pickOffload([-1, 3, 3], 0)).toEqual([1]);
  });
});
