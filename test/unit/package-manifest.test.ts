/** When the package list taken at the stage-cache point still holds (dpkgChangedSince), on real directories. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dpkgChangedSince } from '../../src/package-list.js';

describe('dpkgChangedSince', () => {
  let dir: string;
  let changes: string;
  let view: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'isobuild-pkgman-'));
    changes = join(dir, 'changes');
    view = join(dir, 'view');
    mkdirSync(changes);
    mkdirSync(join(view, 'var/lib/dpkg'), { recursive: true });
    writeFileSync(join(view, 'var/lib/dpkg/status'), 'Package: dpkg\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('holds while nothing under var/lib/dpkg changed', () => {
    expect(dpkgChangedSince(changes, view)).toBe(false);
    mkdirSync(join(changes, 'var/lib/apt'), { recursive: true });
    expect(dpkgChangedSince(changes, view)).toBe(false);
  });
  it('not when dpkg wrote its database, or var or var/lib was replaced', () => {
    mkdirSync(join(changes, 'var/lib/dpkg'), { recursive: true });
    expect(dpkgChangedSince(changes, view)).toBe(true);
    rmSync(join(changes, 'var'), { recursive: true });
    writeFileSync(join(changes, 'var'), ''); // stands for a whiteout: not a directory
    expect(dpkgChangedSince(changes, view)).toBe(true);
  });
  it('not when the database is gone from the view', () => {
    mkdirSync(join(changes, 'var/lib'), { recursive: true });
    rmSync(join(view, 'var/lib/dpkg/status'));
    expect(dpkgChangedSince(changes, view)).toBe(true);
  });
});
