import { describe, expect, it } from 'vitest';
import { addKernelArgs, editGrubMenu, editIsolinuxMenu } from '../../src/boot-config/index.js';

const FIXTURE_GRUB = `set timeout=1
set default=0
serial --unit=0 --speed=115200

menuentry "Try or Install Fixture" {
\tset gfxpayload=keep
\tlinux\t/casper/vmlinuz console=ttyS0,115200 panic=5 ---
\tinitrd\t/casper/initrd
}
menuentry "Fixture (debug shell)" {
\tlinux\t/casper/vmlinuz iso-scan/filename=\${iso_path} fixture.poweroff=0 ---
\tinitrd\t/casper/initrd
}
`;

/** Shaped like Ubuntu 22.04 live-server's boot/grub/grub.cfg. */
const UBUNTU_GRUB = `set timeout=30

loadfont unicode

set menu_color_normal=white/black
set menu_color_highlight=black/light-gray

menuentry "Try or Install Ubuntu Server" {
\tset gfxpayload=keep
\tlinux\t/casper/vmlinuz  ---
\tinitrd\t/casper/initrd
}
menuentry "Ubuntu Server with the HWE kernel" {
\tset gfxpayload=keep
\tlinux\t/casper/hwe-vmlinuz  ---
\tinitrd\t/casper/hwe-initrd
}
grub_platform
if [ "$grub_platform" = "efi" ]; then
menuentry 'Boot from next volume' {
\texit 1
}
menuentry 'UEFI Firmware Settings' {
\tfwsetup
}
else
menuentry 'Test memory' {
\tlinux16 /boot/memtest86+.bin
}
fi
`;

const ISOLINUX = `serial 0 115200
prompt 1
timeout 10
default live

label live
\tmenu label ^Live system
\tlinux /live/vmlinuz
\tappend initrd=/live/initrd.img console=ttyS0,115200 ---

label live-shell
\tmenu label Live system (shell)
\tlinux /live/vmlinuz
\tappend initrd=/live/initrd.img fixture.poweroff=0 ---
`;

function entries(cfg: string): { title: string; linux: string }[] {
  const out: { title: string; linux: string }[] = [];
  for (const m of cfg.matchAll(/menuentry ["'](.*?)["'] \{\n([\s\S]*?)\n\}/g)) {
    out.push({ title: m[1]!, linux: /^\s*linux\s+(.*)$/m.exec(m[2]!)?.[1] ?? '' });
  }
  return out;
}

describe('addKernelArgs', () => {
  it.each([
    ['/vmlinuz quiet ---', ['a=1', 'b'], '/vmlinuz quiet a=1 b ---'],
    ['/vmlinuz quiet', ['a=1'], '/vmlinuz quiet a=1'],
    ['/vmlinuz  ---', ['x'], '/vmlinuz  x ---'],
    ['/vmlinuz a=1 --- b', ['a=1', 'c'], '/vmlinuz a=1 c --- b'],
    ['/vmlinuz ---x y', ['z'], '/vmlinuz ---x y z'],
  ])('%j + %j', (line, args, expected) => {
    expect(addKernelArgs(line, args)).toBe(expected);
  });
});

describe('editGrubMenu', () => {
  it('adds an autoinstall entry first, the originals after it, args everywhere, timeout and default', () => {
    const out = editGrubMenu(FIXTURE_GRUB, { entry: { title: 'Install X (automatic)' }, kernelArgs: ['k=1'], timeout: 3 });
    expect(entries(out)).toEqual([
      { title: 'Install X (automatic)', linux: '/casper/vmlinuz console=ttyS0,115200 panic=5 k=1 autoinstall ds=nocloud\\;s=/cdrom/nocloud/ ---' },
      { title: 'Try or Install Fixture', linux: '/casper/vmlinuz console=ttyS0,115200 panic=5 k=1 ---' },
      { title: 'Fixture (debug shell)', linux: '/casper/vmlinuz iso-scan/filename=${iso_path} fixture.poweroff=0 k=1 ---' },
    ]);
    expect(out).toMatch(/^set timeout=3\nset default=0\n/);
    expect(out.split('set timeout').length).toBe(2);
  });

  it('edits an Ubuntu-style menu: copies the first installer entry, leaves entries without a kernel alone', () => {
    const out = editGrubMenu(UBUNTU_GRUB, { entry: { title: 'Auto' }, kernelArgs: ['console=ttyS0,115200'], default: 1 });
    const list = entries(out);
    expect(list.map((e) => e.title)).toEqual(['Auto', 'Try or Install Ubuntu Server', 'Ubuntu Server with the HWE kernel', 'Boot from next volume', 'UEFI Firmware Settings', 'Test memory']);
    expect(list[0]!.linux).toBe('/casper/vmlinuz  console=ttyS0,115200 autoinstall ds=nocloud\\;s=/cdrom/nocloud/ ---');
    expect(list[2]!.linux).toBe('/casper/hwe-vmlinuz  console=ttyS0,115200 ---');
    expect(out).toContain("menuentry 'Test memory' {\n\tlinux16 /boot/memtest86+.bin\n}");
    expect(out).toMatch(/^set default=1\nset timeout=30\n/);
    // the new entry sits where the first entry was: after the menu settings
    expect(out.indexOf('menuentry "Auto"')).toBeGreaterThan(out.indexOf('menu_color_highlight'));
  });

  it('only adds kernel args without an entry, and keeps the base timeout', () => {
    const out = editGrubMenu(FIXTURE_GRUB, { kernelArgs: ['k=1'] });
    expect(entries(out).map((e) => e.title)).toEqual(['Try or Install Fixture', 'Fixture (debug shell)']);
    expect(out).toContain('set timeout=1\nset default=0\n');
    expect(editGrubMenu(FIXTURE_GRUB, { kernelArgs: [] })).toBe(FIXTURE_GRUB);
  });

  it('escapes the title for GRUB', () => {
    const out = editGrubMenu(FIXTURE_GRUB, { entry: { title: 'A "$x" \\ $1' }, kernelArgs: [] });
    expect(out).toContain('menuentry "A \\"\\$x\\" \\\\ \\$1" {');
  });

  it('refuses to add an entry to a menu without a kernel entry', () => {
    expect(() => editGrubMenu('set timeout=5\n', { entry: { title: 'x' }, kernelArgs: [] })).toThrow(/no menuentry/);
  });
});

describe('editIsolinuxMenu', () => {
  it('adds an autoinstall label first and makes it the default', () => {
    const out = editIsolinuxMenu(ISOLINUX, { entry: { title: 'Install X (automatic)' }, kernelArgs: ['k=1'], timeout: 2 });
    expect(out).toContain('default autoinstall\n');
    expect(out).toContain('timeout 20\n');
    expect(out).toContain(
      'label autoinstall\n\tmenu label Install X (automatic)\n\tlinux /live/vmlinuz\n\tappend initrd=/live/initrd.img console=ttyS0,115200 k=1 autoinstall ds=nocloud;s=/cdrom/nocloud/ ---\n\nlabel live\n',
    );
    expect(out).toContain('\tappend initrd=/live/initrd.img fixture.poweroff=0 k=1 ---');
    expect(out.indexOf('label autoinstall')).toBeLessThan(out.indexOf('label live'));
  });

  it('maps a default index to a label name', () => {
    const out = editIsolinuxMenu(ISOLINUX, { entry: { title: 'A' }, kernelArgs: [], default: 2 });
    expect(out).toContain('default live-shell\n');
  });
});
