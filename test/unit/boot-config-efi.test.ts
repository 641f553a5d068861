/**
 * The GRUB config inside an El Torito EFI image file, edited in place with the real mtools and checked with
 * independent tools (mtype for the content, fsck.fat for the file system, the file size). Needs mtools and dosfstools
 * (scripts/setup installs them).
 */
import { cpSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { editIsoBootMenus } from '../../src/boot-config/iso-menus.js';
import { loadGrubMenu, grubEntries } from '../../src/boot-config/index.js';
import { efiImageInTree } from '../../src/stages/boot-menu.js';
import { sh } from '../support/cli.js';
import { scratchDirs } from '../support/scratch.js';
import { needs, requireTools } from '../support/needs.js';

/** Temp dirs of this file, removed when it ends. */
const scratchDir = scratchDirs();

const TITLE = 'Install NovaSphere (automatic)';
const OWN_MENU = `search --set=root --file /.disk/info
set timeout=0
menuentry "Live system (amd64)" --hotkey=l {
\tlinux\t($root)/live/vmlinuz boot=live components findiso=\${iso_path}
\tinitrd\t($root)/live/initrd.img
}
`;

function efiImage(tree: string, files: Record<string, string>): string {
  const img = join(tree, 'boot/grub/efi.img');
  sh('mkfs.fat', ['-C', '-n', 'EFITEST', img, '1024']);
  for (const dir of ['::/EFI', '::/EFI/boot', '::/boot', '::/boot/grub']) sh('env', ['MTOOLS_SKIP_CHECK=1', 'mmd', '-i', img, dir]);
  for (const [path, text] of Object.entries(files)) {
    const local = join(tree, '..', 'cfg.tmp');
    writeFileSync(local, text);
    sh('env', ['MTOOLS_SKIP_CHECK=1', 'mcopy', '-i', img, local, `::/${path}`]);
  }
  return img;
}

function mtype(img: string, path: string): string {
  return sh('env', ['MTOOLS_SKIP_CHECK=1', 'mtype', '-i', img, `::/${path}`]);
}

describe('the GRUB config in the EFI image file', needs(requireTools('mkfs.fat', 'fsck.fat', 'mmd', 'mcopy', 'mtype', 'mdir')), () => {
  it('finds the image in the replayed boot setup, not an appended partition', () => {
    expect(efiImageInTree(['-b', '/isolinux/isolinux.bin', '-eltorito-alt-boot', '-e', '/boot/grub/efi.img', '-no-emul-boot'])).toBe('boot/grub/efi.img');
    expect(efiImageInTree(['-e', '--interval:appended_partition_2_start_1234s_size_8496d:all::', '-no-emul-boot'])).toBeUndefined();
  });

  it('leaves live-build\'s image alone (its grub.cfg hands over to the ISO\'s) and edits the ISO\'s grub.cfg', async () => {
    const tree = join(scratchDir('boot-config-efi-'), 'iso');
    cpSync('test/fixtures/boot-configs/live-build', tree, { recursive: true });
    const img = efiImage(tree, { 'boot/grub/grub.cfg': readFileSync('test/fixtures/boot-configs/live-build/efi.img-grub.cfg', 'utf8') });
    const before = readFileSync(img);
    const result = await editIsoBootMenus(tree, { entry: { title: TITLE }, kernelArgs: [] }, { efiImage: 'boot/grub/efi.img' });
    expect(result.leftAlone).toEqual(['boot/grub/loopback.cfg', 'boot/grub/efi.img:boot/grub/grub.cfg']);
    expect(result.edited).toContain('boot/grub/grub.cfg');
    expect(readFileSync(img).equals(before)).toBe(true);
  });

  it('edits an image config with entries of its own in place: same size, clean FAT, new entry first', async () => {
    const tree = join(scratchDir('boot-config-efi-'), 'iso');
    cpSync('test/fixtures/boot-configs/live-build', tree, { recursive: true });
    const img = efiImage(tree, { 'EFI/boot/grub.cfg': OWN_MENU });
    const size = statSync(img).size;
    const result = await editIsoBootMenus(tree, { entry: { title: TITLE }, kernelArgs: [], timeout: 3 }, { efiImage: 'boot/grub/efi.img' });
    expect(result.edited).toContain('boot/grub/efi.img:EFI/boot/grub.cfg');
    expect(statSync(img).size).toBe(size);
    sh('fsck.fat', ['-n', img]);
    const text = mtype(img, 'EFI/boot/grub.cfg');
    expect(text).toBe(
      `set default=0\nsearch --set=root --file /.disk/info\nset timeout=3\nmenuentry "${TITLE}" {\n\tlinux\t($root)/live/vmlinuz boot=live components findiso=\${iso_path} autoinstall ds=nocloud\\;s=/cdrom/nocloud/\n\tinitrd\t($root)/live/initrd.img\n}\n` +
        OWN_MENU.split('\n').slice(2).join('\n'),
    );
    const menu = loadGrubMenu('x.cfg', (p) => (p === 'x.cfg' ? text : undefined))!;
    expect(grubEntries(menu.nodes).map((e) => e.entry.title)).toEqual([TITLE, 'Live system (amd64)']);
  });
});
