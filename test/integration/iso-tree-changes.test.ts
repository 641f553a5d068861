/**
 * The ISO tree's edits as modify-mode commands (iso-tree-changes.ts), against a real overlay mount: every kind of edit
 * overlayfs records (whiteout, opaque directory, type changes, new and changed files, symlinks), then the new ISO
 * written by xorriso over a base made from the lower tree and read back by xorriso's own extraction: it must equal the
 * merged view, file by file.
 */
import { mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh, tempDir } from '../support/cli.js';
import { needs, requireRoot, requireTools } from '../support/needs.js';
import { isoTreeChanges } from '../../src/iso-tree-changes.js';
import { modifyIso } from '../../src/tools/xorriso.js';

describe('ISO tree edits written over the base', needs(requireRoot('an overlay mount'), requireTools('xorriso', 'diff')), () => {
  let dir: string;
  const dirs = { base: '', changes: '', merged: '' };
  beforeAll(() => {
    dir = tempDir('isob-tree-changes-');
    Object.assign(dirs, { base: join(dir, 'base'), changes: join(dir, 'changes'), merged: join(dir, 'merged') });
    const work = join(dir, 'work');
    const files: Record<string, string> = {
      'md5sum.txt': 'old sums\n',
      'keep/untouched.txt': 'same\n',
      'gone.txt': 'deleted\n',
      'gone-dir/a.txt': 'a\n',
      'opaque/old.txt': 'hidden by an opaque dir\n',
      'opaque/sub/deep.txt': 'deep\n',
      'dir-to-file/x.txt': 'x\n',
      'file-to-dir': 'was a file\n',
      'casper/layer.squashfs': 'layer bytes\n',
      // names xorriso would take as patterns: removing glob* must not remove globber
      'glob*': 'deleted\n',
      'globber': 'kept\n',
      'm[ab]': 'replaced\n',
      'ma': 'kept\n',
    };
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(join(dirs.base, rel, '..'), { recursive: true });
      writeFileSync(join(dirs.base, rel), text);
    }
    symlinkSync('.', join(dirs.base, 'ubuntu'));
    for (const d of [dirs.changes, dirs.merged, work]) mkdirSync(d, { recursive: true });
    sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${dirs.base},upperdir=${dirs.changes},workdir=${work},redirect_dir=off,metacopy=off`, dirs.merged]);
    const m = (rel: string): string => join(dirs.merged, rel);
    writeFileSync(m('md5sum.txt'), 'new sums\n');
    unlinkSync(m('gone.txt'));
    unlinkSync(m('glob*'));
    writeFileSync(m('m[ab]'), 'new content\n');
    rmSync(m('gone-dir'), { recursive: true });
    rmSync(m('opaque'), { recursive: true });
    mkdirSync(m('opaque/sub'), { recursive: true });
    writeFileSync(m('opaque/new.txt'), 'new in the opaque dir\n');
    rmSync(m('dir-to-file'), { recursive: true });
    writeFileSync(m('dir-to-file'), 'now a file\n');
    unlinkSync(m('file-to-dir'));
    mkdirSync(m('file-to-dir'));
    writeFileSync(m('file-to-dir/inside.txt'), 'inside\n');
    mkdirSync(m('brand/new'), { recursive: true });
    writeFileSync(m('brand/new/file.txt'), 'new\n');
    writeFileSync(m('casper/layer.extra.squashfs'), 'a new layer\n');
    symlinkSync('../keep/untouched.txt', m('casper/link'));
  });
  afterAll(() => {
    if (!dir) return;
    sh('umount', [dirs.merged]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every removal and every mapped path, sorted', () => {
    const changes = isoTreeChanges(dirs);
    expect(changes.removed).toEqual(['dir-to-file', 'glob*', 'gone-dir', 'gone.txt', 'opaque/old.txt', 'opaque/sub/deep.txt']);
    expect(changes.mapped.map((m) => m.iso)).toEqual([
      'brand',
      'casper/layer.extra.squashfs',
      'casper/link',
      'dir-to-file',
      'file-to-dir',
      'm[ab]',
      'md5sum.txt',
      'opaque/new.txt',
    ]);
    for (const m of changes.mapped) expect(m.disk).toBe(join(dirs.changes, m.iso));
  });

  it('gives an ISO whose tree, extracted by xorriso, is the merged view', async () => {
    const base = join(dir, 'base.iso');
    sh('xorriso', ['-as', 'mkisofs', '-r', '-J', '-V', 'BASE', '-o', base, dirs.base]);
    const out = join(dir, 'out.iso');
    const opts = { base, output: out, bootSetup: [], volumeId: 'NEW', fileDate: '2023111422132000', changes: isoTreeChanges(dirs) };
    await modifyIso(opts);
    // Written through stdout (a sequential drive), the image is one session from block 0, as `-as mkisofs -o` writes it:
    // to a regular file, modify mode would put it at block 32 behind a multi-session emulation header.
    expect(sh('xorriso', ['-indev', out, '-toc'])).toMatch(/^ISO session\s*:\s*1\s*,\s*0\s*,/m);
    const back = join(dir, 'back');
    sh('xorriso', ['-osirrox', 'on', '-indev', out, '-extract', '/', back]);
    // diff -r follows neither symlink (--no-dereference) and reports any file, type or content difference.
    expect(sh('diff', ['-r', '--no-dereference', dirs.merged, back])).toBe('');
    expect(readFileSync(join(back, 'opaque/new.txt'), 'utf8')).toBe('new in the opaque dir\n');
    expect(readFileSync(join(back, 'globber'), 'utf8')).toBe('kept\n');
    expect(readFileSync(join(back, 'ma'), 'utf8')).toBe('kept\n');
    const pvd = sh('xorriso', ['-indev', out, '-pvd_info']);
    expect(pvd).toMatch(/^Volume Id\s*:\s*NEW$/m);
    // Every file's dates come from the build's epoch, not from the clock.
    expect(pvd).toMatch(/^Creation Time\s*:\s*2023111422132000$/m);
  });
});
