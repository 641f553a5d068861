/**
 * The boot-configuration model over real menus (test/fixtures/boot-configs: live-build's rendered templates, Ubuntu
 * 20.04/22.04/24.04 shapes, an older linuxefi hybrid): the new entry comes first, every original entry is still there
 * byte for byte, includes are followed, and the result parses again.
 */
import { cpSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  grubEntries,
  grubIncludesOnly,
  loadGrubMenu,
  loadSyslinuxMenu,
  syslinuxLabels,
  type GrubMenu,
  type SyslinuxMenu,
} from '../../src/boot-config/index.js';
import { editIsoBootMenus, treeReader } from '../../src/boot-config/iso-menus.js';
import { isIsoBuildError } from '../../src/errors.js';
import { scratchDirs } from '../support/scratch.js';

/** Temp dirs of this file, removed when it ends. */
const scratchDir = scratchDirs();

const FIXTURES = 'test/fixtures/boot-configs';
const TITLE = 'Install NovaSphere v1.0.0 (automatic)';

interface Case {
  name: string;
  grub: string[];
  syslinux?: string;
  /** The original entry the new one copies (its title / label). */
  template: { grub?: string; syslinux?: string };
  /** Files that only include another menu. */
  leftAlone: string[];
}

const CASES: Case[] = [
  { name: 'live-build', grub: ['boot/grub/grub.cfg'], syslinux: 'isolinux/isolinux.cfg', template: { grub: 'Live system (amd64)', syslinux: 'live-amd64' }, leftAlone: ['boot/grub/loopback.cfg'] },
  { name: 'live-build-installer', grub: ['boot/grub/grub.cfg'], syslinux: 'isolinux/isolinux.cfg', template: { grub: 'Live system (amd64)', syslinux: 'live-amd64' }, leftAlone: ['boot/grub/loopback.cfg'] },
  { name: 'ubuntu-20.04', grub: ['boot/grub/grub.cfg', 'boot/grub/loopback.cfg'], syslinux: 'isolinux/isolinux.cfg', template: { grub: 'Install Ubuntu Server', syslinux: 'live' }, leftAlone: [] },
  { name: 'ubuntu-22.04', grub: ['boot/grub/grub.cfg', 'boot/grub/loopback.cfg'], template: { grub: 'Try or Install Ubuntu Server' }, leftAlone: [] },
  { name: 'ubuntu-24.04', grub: ['boot/grub/grub.cfg', 'boot/grub/loopback.cfg'], template: { grub: 'Try or Install Ubuntu Server' }, leftAlone: [] },
  { name: 'older-hybrid', grub: ['EFI/BOOT/grub.cfg'], syslinux: 'isolinux/isolinux.cfg', template: { grub: 'Install Older Hybrid 7', syslinux: 'linux' }, leftAlone: [] },
];

function copyFixture(name: string): string {
  const dir = join(scratchDir('boot-config-'), 'iso');
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

function blockOf(menu: GrubMenu | SyslinuxMenu, file: string, start: number, end: number): string {
  return menu.texts.get(file)!.split('\n').slice(start, end).join('\n');
}

function grubBlocks(menu: GrubMenu): { title: string; text: string }[] {
  return grubEntries(menu.nodes).map(({ entry }) => ({ title: entry.title, text: blockOf(menu, entry.file, entry.start, entry.end) }));
}

/** Label blocks without their `menu default` line (the mark moves to the new entry). */
function syslinuxBlocks(menu: SyslinuxMenu): { name: string; text: string }[] {
  return syslinuxLabels(menu.nodes).map(({ label }) => ({
    name: label.name,
    text: blockOf(menu, label.file, label.start, label.end).split('\n').filter((l) => !/^\s*menu\s+default\s*$/i.test(l)).join('\n'),
  }));
}

function kernelLine(text: string): string {
  return (/^\s*(?:linux|linuxefi|kernel)\s+(.*)$/m.exec(text)?.[1] ?? '') + ' | ' + (/^\s*append\s+(.*)$/m.exec(text)?.[1] ?? '');
}

describe.each(CASES)('$name', (c) => {
  it('adds the automatic entry first and keeps every original entry unchanged', async () => {
    const before = treeReader(join(FIXTURES, c.name));
    const tree = copyFixture(c.name);
    const result = await editIsoBootMenus(tree, { entry: { title: TITLE }, kernelArgs: [] });
    expect(result.leftAlone).toEqual(c.leftAlone);
    for (const root of c.grub) {
      const original = loadGrubMenu(root, before)!;
      const edited = loadGrubMenu(root, treeReader(tree))!;
      const [first, ...rest] = grubBlocks(edited);
      expect(first!.title).toBe(TITLE);
      expect(rest).toEqual(grubBlocks(original));
      const template = grubBlocks(original).find((b) => b.title === c.template.grub)!;
      expect(kernelLine(first!.text)).toContain(kernelLine(template.text).split(' | ')[0]!.replace(/\s*---.*$/, ''));
      expect(first!.text).toMatch(/autoinstall ds=nocloud\\;s=\/cdrom\/nocloud\//);
    }
    if (c.syslinux !== undefined) {
      const original = loadSyslinuxMenu(c.syslinux, before)!;
      const edited = loadSyslinuxMenu(c.syslinux, treeReader(tree))!;
      const [first, ...rest] = syslinuxBlocks(edited);
      expect(first!.name).toBe('autoinstall');
      expect(first!.text).toContain(`menu label ${TITLE}`);
      expect(first!.text).toContain('autoinstall ds=nocloud;s=/cdrom/nocloud/');
      expect(rest).toEqual(syslinuxBlocks(original));
      // the template's kernel and arguments, plus the installer's
      const template = syslinuxBlocks(original).find((b) => b.name === c.template.syslinux)!;
      expect(first!.text).toContain(/^\s*(?:linux|kernel)\s.*$/m.exec(template.text)![0]);
    }
    // every other file of the tree is byte for byte the base's
    const touched = new Set(result.edited);
    for (const file of [...c.grub, ...c.leftAlone, ...(c.syslinux ? [c.syslinux] : [])]) {
      if (!touched.has(file)) expect(readFileSync(join(tree, file), 'utf8'), file).toBe(before(file));
    }
  });

  it('gives a menu that would wait forever a timeout, and makes the new entry the default', async () => {
    const tree = copyFixture(c.name);
    await editIsoBootMenus(tree, { entry: { title: TITLE }, kernelArgs: [] });
    const read = treeReader(tree);
    for (const root of c.grub) {
      const text = [...loadGrubMenu(root, read)!.texts.values()].join('\n');
      expect(text).toMatch(/^\s*set timeout=\d+/m);
      expect(text).not.toMatch(/^\s*set timeout=-/m);
      expect(text).toMatch(/^\s*set default="?0"?\s*$/m);
    }
    if (c.syslinux !== undefined) {
      const texts = [...loadSyslinuxMenu(c.syslinux, read)!.texts.values()].join('\n');
      const timeouts = [...texts.matchAll(/^\s*timeout\s+(\d+)/gim)].map((m) => Number(m[1]));
      expect(timeouts.length).toBeGreaterThan(0);
      for (const t of timeouts) expect(t).toBeGreaterThan(0);
    }
  });

  it('parses again after the edit, and editing the result again adds exactly one more entry', async () => {
    const tree = copyFixture(c.name);
    await editIsoBootMenus(tree, { entry: { title: TITLE }, kernelArgs: ['console=ttyS0,115200'] });
    const once = c.grub.map((r) => grubEntries(loadGrubMenu(r, treeReader(tree))!.nodes).length);
    await editIsoBootMenus(tree, { entry: { title: 'again' }, kernelArgs: ['console=ttyS0,115200'] });
    const twice = c.grub.map((r) => grubEntries(loadGrubMenu(r, treeReader(tree))!.nodes).length);
    expect(twice).toEqual(once.map((n) => n + 1));
    // the profile's argument once per kernel line, never twice
    for (const r of c.grub) {
      for (const text of loadGrubMenu(r, treeReader(tree))!.texts.values()) expect(text).not.toMatch(/console=ttyS0,115200.*console=ttyS0,115200/);
    }
  });
});

describe('live-build specifics', () => {
  it('keeps the copied entry out of if false / submenus, drops its --hotkey, and sets the timeout after config.cfg', async () => {
    const tree = copyFixture('live-build-installer');
    await editIsoBootMenus(tree, { entry: { title: TITLE }, kernelArgs: [] });
    const grub = readFileSync(join(tree, 'boot/grub/grub.cfg'), 'utf8');
    expect(grub).toContain(
      `source /boot/grub/config.cfg\nset timeout=5\n\n# Live boot\nmenuentry "${TITLE}" {\n\tlinux\t/live/vmlinuz-6.1.0-13-amd64 boot=live components quiet splash findiso=\${iso_path} autoinstall ds=nocloud\\;s=/cdrom/nocloud/\n\tinitrd\t/live/initrd.img-6.1.0-13-amd64\n}\nmenuentry "Live system (amd64)" --hotkey=l {`,
    );
    // config.cfg's own `set default=0` is the menu's default (0 = the new entry): left as it is
    expect(readFileSync(join(tree, 'boot/grub/config.cfg'), 'utf8')).toBe(readFileSync(join(FIXTURES, 'live-build-installer/boot/grub/config.cfg'), 'utf8'));
    // isolinux: the label goes into live.cfg (isolinux.cfg -> menu.cfg -> live.cfg), the menu default mark moves to it
    const live = readFileSync(join(tree, 'isolinux/live.cfg'), 'utf8');
    expect(live.startsWith(`label autoinstall\n\tmenu label ${TITLE}\n\tmenu default\n\tlinux /live/vmlinuz\n\tinitrd /live/initrd.img\n\tappend boot=live components quiet splash autoinstall ds=nocloud;s=/cdrom/nocloud/\n\nlabel live-amd64\n\tmenu label ^Live system (amd64)\n\tlinux`)).toBe(true);
    expect(readFileSync(join(tree, 'isolinux/isolinux.cfg'), 'utf8')).toBe('include menu.cfg\ndefault vesamenu.c32\nprompt 0\ntimeout 50\n');
    expect(readFileSync(join(tree, 'isolinux/menu.cfg'), 'utf8')).toBe(readFileSync(join(FIXTURES, 'live-build-installer/isolinux/menu.cfg'), 'utf8'));
  });

  it('leaves loopback.cfg and the EFI image grub.cfg alone: they only include grub.cfg', () => {
    const read = treeReader(join(FIXTURES, 'live-build'));
    expect(grubIncludesOnly(loadGrubMenu('boot/grub/loopback.cfg', read)!.nodes)).toBe(true);
    const efi = readFileSync(join(FIXTURES, 'live-build/efi.img-grub.cfg'), 'utf8');
    const menu = loadGrubMenu('efi.cfg', (p) => (p === 'efi.cfg' ? efi : read(p)))!;
    expect(grubIncludesOnly(menu.nodes)).toBe(true);
    // and the include is followed into the ISO tree: ($root)/boot/grub/grub.cfg
    expect(menu.texts.has('boot/grub/grub.cfg')).toBe(true);
    expect(menu.texts.has('boot/grub/config.cfg')).toBe(true);
  });
});

describe('kernel arguments per distribution', () => {
  it('Ubuntu: the installer arguments before ---, the installed system arguments after it, iso-scan/filename kept', async () => {
    const tree = copyFixture('ubuntu-22.04');
    await editIsoBootMenus(tree, { entry: { title: TITLE }, kernelArgs: ['console=ttyS0,115200'], installedKernelArgs: ['console=ttyS0,115200', 'nomodeset'] });
    const grub = readFileSync(join(tree, 'boot/grub/grub.cfg'), 'utf8');
    expect(grub).toContain(`menuentry "${TITLE}" {\n\tset gfxpayload=keep\n\tlinux\t/casper/vmlinuz  console=ttyS0,115200 autoinstall ds=nocloud\\;s=/cdrom/nocloud/ --- console=ttyS0,115200 nomodeset\n`);
    expect(grub).toContain('\tlinux\t/casper/hwe-vmlinuz  console=ttyS0,115200 --- console=ttyS0,115200 nomodeset\n');
    expect(grub).toContain('\tlinux16 /boot/memtest86+.bin\n');
    const loop = readFileSync(join(tree, 'boot/grub/loopback.cfg'), 'utf8');
    expect(loop).toContain('\tlinux\t/casper/vmlinuz  iso-scan/filename=${iso_path} console=ttyS0,115200 autoinstall ds=nocloud\\;s=/cdrom/nocloud/ --- console=ttyS0,115200 nomodeset\n');
  });

  it('Ubuntu 20.04 isolinux: append ... ---, default moved to the new label, the gfxboot timeout kept', async () => {
    const tree = copyFixture('ubuntu-20.04');
    await editIsoBootMenus(tree, { entry: { title: TITLE }, kernelArgs: [], installedKernelArgs: ['quiet'] });
    const txt = readFileSync(join(tree, 'isolinux/txt.cfg'), 'utf8');
    expect(txt.startsWith(`default autoinstall\nlabel autoinstall\n  menu label ${TITLE}\n  kernel /casper/vmlinuz\n  append   initrd=/casper/initrd quiet  autoinstall ds=nocloud;s=/cdrom/nocloud/ --- quiet\n\nlabel live\n`)).toBe(true);
    expect(txt).toContain('label live\n  menu label ^Install Ubuntu Server\n  kernel /casper/vmlinuz\n  append   initrd=/casper/initrd quiet  --- quiet\n');
    expect(txt).toContain('label memtest\n  menu label Test ^memory\n  kernel /install/mt86plus\n');
    expect(readFileSync(join(tree, 'isolinux/isolinux.cfg'), 'utf8')).toContain('timeout 300\n');
  });

  it('Debian live: after boot=live components ... findiso=${iso_path}; lines without --- get one for the installed system', async () => {
    const tree = copyFixture('live-build');
    await editIsoBootMenus(tree, { entry: { title: TITLE }, kernelArgs: ['k=1'], installedKernelArgs: ['i=2'] });
    const grub = readFileSync(join(tree, 'boot/grub/grub.cfg'), 'utf8');
    expect(grub).toContain('\tlinux\t/live/vmlinuz-6.1.0-13-amd64 boot=live components quiet splash findiso=${iso_path} k=1 autoinstall ds=nocloud\\;s=/cdrom/nocloud/ --- i=2\n');
    expect(grub).toContain('\tlinux\t/live/vmlinuz-6.1.0-13-amd64 boot=live components quiet splash findiso=${iso_path} k=1 --- i=2\n');
  });
});

describe('shapes the model does not understand', () => {
  it.each([
    ['boot/grub/grub.cfg', 'menuentry "x" {\n\tlinux /vmlinuz\n', /boot\/grub\/grub\.cfg:1: block opened here is never closed/],
    ['boot/grub/grub.cfg', 'if true; then\nmenuentry "x" {\n\tlinux /vmlinuz\n}\n', /:1: block opened here is never closed \("fi" missing\)/],
    ['boot/grub/grub.cfg', 'menuentry "x" {\n\tlinux /vmlinuz\n}\n}\n', /:4: "}" without an open block/],
    ['boot/grub/grub.cfg', 'menuentry "x {\n', /:1: unterminated double quote/],
    ['boot/grub/grub.cfg', 'source /boot/grub/grub.cfg\n', /includes nest too deep or loop/],
    ['boot/grub/grub.cfg', 'set timeout=5\n', /no menuentry with a linux line to copy/],
    ['isolinux/isolinux.cfg', 'menu begin x\nlabel a\n  kernel /vmlinuz\n', /isolinux\/isolinux\.cfg:1: "menu begin" without "menu end"/],
    ['isolinux/isolinux.cfg', 'menu end\n', /:1: "menu end" without "menu begin"/],
    ['isolinux/isolinux.cfg', 'label hd\n  localboot 0x80\n', /no label with a kernel to copy/],
  ])('%s: %j', async (file, text, message) => {
    const tree = join(scratchDir('boot-config-bad-'), 'iso');
    cpSync(join(FIXTURES, 'ubuntu-22.04'), tree, { recursive: true });
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(join(tree, file, '..'), { recursive: true });
    writeFileSync(join(tree, file), text);
    const err = await editIsoBootMenus(tree, { entry: { title: TITLE }, kernelArgs: [] }).then(() => undefined, (e: unknown) => e);
    expect(isIsoBuildError(err), String(err)).toBe(true);
    if (!isIsoBuildError(err)) return;
    expect(err.message).toMatch(message);
    expect(err.exitCode).toBe(2);
    expect(err.hint).toMatch(/bootMenu: false/);
  });

  it('a missing fixture directory would make these tests vacuous', () => {
    for (const c of CASES) expect(existsSync(join(FIXTURES, c.name)), c.name).toBe(true);
  });
});
