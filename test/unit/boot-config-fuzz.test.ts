/**
 * Property test: mutated real boot menus (lines dropped, duplicated, swapped, truncated, GRUB / isolinux keywords and
 * stray quotes inserted) either edit into a menu that parses again with the new entry first, or fail with an
 * IsoBuildError (exit 2, naming a file and line). Never another exception, never a hang. Seeded: failures reproduce.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  editGrub,
  editSyslinux,
  editedTexts,
  grubEntries,
  grubIncludesOnly,
  LineEdits,
  loadGrubMenu,
  loadSyslinuxMenu,
  syslinuxLabels,
  type ConfigReader,
  type MenuEdit,
} from '../../src/boot-config/index.js';
import { isIsoBuildError } from '../../src/errors.js';
import { seededRandom } from '../support/random.js';

const FIXTURES = 'test/fixtures/boot-configs';
const ITERATIONS = 250;
const GRUB_ROOTS = ['boot/grub/grub.cfg', 'boot/grub/loopback.cfg', 'EFI/BOOT/grub.cfg'];
const SYSLINUX_ROOTS = ['isolinux/isolinux.cfg'];
const NOISE = [
  '{', '}', 'fi', 'else', 'if false; then', 'if [ "$grub_platform" = "efi" ]; then', 'menuentry "m" {', "submenu 's' --hotkey=s {",
  'source /boot/grub/grub.cfg', 'configfile $prefix/grub.cfg', 'source /boot/grub/config.cfg', 'set timeout=-1', 'set default="2"',
  '\tlinux\t/casper/vmlinuz  ---', 'linux16 /boot/memtest86+.bin', 'function f {', 'for x in a b; do', 'done', '"', "'", 'a\\',
  'menu begin x', 'menu end', 'label', 'label y', '  kernel /vmlinuz', '  append a --- b', 'include menu.cfg', 'include live.cfg',
  'menu include stdmenu.cfg', 'text help', 'endtext', 'default vesamenu.c32', 'default nothere', 'timeout 0', 'ui gfxboot bootlogo',
  'menu default', '\u0000\u00ff\r', '',
];

function filesOf(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.cfg')) out.set(relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

function mutate(text: string, rand: () => number): string {
  const lines = text.split('\n');
  const pick = (): number => Math.floor(rand() * (lines.length + 1));
  const ops = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < ops; k++) {
    const i = Math.min(pick(), Math.max(0, lines.length - 1));
    switch (Math.floor(rand() * 6)) {
      case 0: lines.splice(i, 1); break;
      case 1: lines.splice(i, 0, lines[i] ?? ''); break;
      case 2: lines.splice(i, 0, NOISE[Math.floor(rand() * NOISE.length)]!); break;
      case 3: { const j = Math.min(pick(), lines.length - 1); [lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? '']; break; }
      case 4: lines.length = Math.min(lines.length, i + 1); break;
      default: lines[i] = (lines[i] ?? '').slice(0, Math.floor(rand() * ((lines[i] ?? '').length + 1))); break;
    }
  }
  return lines.join('\n');
}

const EDIT: MenuEdit = { entry: { title: 'Install X (automatic)' }, kernelArgs: ['console=ttyS0,115200'], installedKernelArgs: ['quiet'] };

/** Edits every menu of the file set; returns the edited file set. Throws what the model throws. */
function editAll(files: Map<string, string>): Map<string, string> {
  const read: ConfigReader = (p) => files.get(p);
  const out = new Map(files);
  for (const root of GRUB_ROOTS) {
    const menu = loadGrubMenu(root, (p) => out.get(p));
    if (menu === undefined || grubIncludesOnly(menu.nodes)) continue;
    const edits = new LineEdits();
    editGrub(menu, EDIT, edits);
    for (const [f, t] of editedTexts(menu, edits)) out.set(f, t);
  }
  for (const root of SYSLINUX_ROOTS) {
    const menu = loadSyslinuxMenu(root, read);
    if (menu === undefined) continue;
    const edits = new LineEdits();
    editSyslinux(menu, EDIT, edits);
    for (const [f, t] of editedTexts(menu, edits)) out.set(f, t);
  }
  return out;
}

describe.each(readdirSync(FIXTURES).filter((d) => statSync(join(FIXTURES, d)).isDirectory()))('mutated %s menus', (fixture) => {
  it('edit into menus that parse again, or fail with an IsoBuildError naming file:line', () => {
    const base = filesOf(join(FIXTURES, fixture));
    const names = [...base.keys()].sort();
    const rand = seededRandom([...fixture].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261));
    let edited = 0;
    let rejected = 0;
    for (let n = 0; n < ITERATIONS; n++) {
      const files = new Map(base);
      const victim = names[Math.floor(rand() * names.length)]!;
      files.set(victim, mutate(files.get(victim)!, rand));
      let out: Map<string, string>;
      try {
        out = editAll(files);
      } catch (err) {
        if (!isIsoBuildError(err)) throw new Error(`iteration ${n} (${victim}): not an IsoBuildError: ${String(err)}`, { cause: err });
        expect(err.exitCode).toBe(2);
        expect(err.message).toMatch(/^[^\s:]+(?::[^\s:]+)?:\d+: /);
        expect(err.hint).toMatch(/bootMenu: false/);
        rejected++;
        continue;
      }
      edited++;
      // the result parses again, and the new entry is the first of every edited menu
      for (const root of GRUB_ROOTS) {
        const menu = loadGrubMenu(root, (p) => out.get(p));
        if (menu === undefined || grubIncludesOnly(menu.nodes)) continue;
        expect(grubEntries(menu.nodes)[0]?.entry.title, `iteration ${n} ${root}`).toBe('Install X (automatic)');
      }
      for (const root of SYSLINUX_ROOTS) {
        const menu = loadSyslinuxMenu(root, (p) => out.get(p));
        if (menu === undefined) continue;
        expect(syslinuxLabels(menu.nodes)[0]?.label.name, `iteration ${n} ${root}`).toMatch(/^autoinstall/);
      }
    }
    // both outcomes happen: the mutations are neither all harmless nor all fatal
    expect(edited).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  }, 60_000);
});
