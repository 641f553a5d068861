/** Image and chart archives whose members would land outside the directory they are extracted into are refused. */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkChart } from '../../src/packages/charts.js';
import { checkImage } from '../../src/packages/images.js';
import { scanTar } from '../../src/packages/tar.js';

const FIX = join(import.meta.dirname, '../fixtures/packages');
const IMAGE = join(FIX, 'hello-image-oci.tar');
const CHART = join(FIX, 'hello-chart-0.1.0.tgz');

describe('archive members that lead out', () => {
  let tmp: string;
  let src: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'isobuild-unit-members-'));
    src = join(tmp, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'payload'), 'x');
    symlinkSync('/etc/shadow', join(src, 'abs'));
    symlinkSync('../../outside', join(src, 'sub/climb'));
    symlinkSync('../payload', join(src, 'sub/fine'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** The fixture image with `members` (paths under src) appended by GNU tar, `transform` applied to their names. */
  function imageWith(name: string, members: string[], transform?: string): string {
    const out = join(tmp, name);
    copyFileSync(IMAGE, out);
    execFileSync('tar', ['-rf', out, '-C', src, '-P', ...(transform ? ['--transform', transform] : []), ...members]);
    return out;
  }

  it('the fixture image and chart have none', async () => {
    expect((await scanTar(IMAGE)).unsafe).toEqual([]);
    expect((await checkChart(CHART)).problems).toEqual([]);
  });
  it('a ../../ member is refused, naming it', async () => {
    const check = await checkImage(imageWith('dotdot.tar', ['payload'], 's,^payload$,../../payload,'));
    expect(check.problems).toContain('member ../../payload leads out of the directory it would be extracted into');
  });
  it('an absolute path, an absolute symlink and a climbing symlink are refused; one that stays inside is not', async () => {
    const file = imageWith('links.tar', ['payload', 'abs', 'sub/climb', 'sub/fine'], 's,^payload$,/tmp/payload,');
    const { unsafe } = await scanTar(file);
    expect(unsafe).toEqual(['/tmp/payload', 'abs -> /etc/shadow', 'sub/climb -> ../../outside']);
  });
});
