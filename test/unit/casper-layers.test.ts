/** Chain expansion, default-source choice and install-sources.yaml rewriting, against copies of the real files' shapes. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defaultInstallSource, installedLayers, layerChain, lowerLayersOf, missingChainLayers } from '../../src/casper-layers.js';
import { rewriteInstallSources } from '../../src/install-sources.js';
import { REPO } from '../support/cli.js';

const JAMMY = readFileSync(join(REPO, 'test/unit/fixtures/install-sources/jammy-22.04.3.yaml'), 'utf8');
const JAMMY_CASPER = new Set([
  'ubuntu-server-minimal.squashfs',
  'ubuntu-server-minimal.ubuntu-server.squashfs',
  'ubuntu-server-minimal.ubuntu-server.installer.squashfs',
  'ubuntu-server-minimal.ubuntu-server.installer.generic.squashfs',
  'ubuntu-server-minimal.ubuntu-server.installer.generic-hwe.squashfs',
]);

describe('layer chains (curtin _get_image_stack, casper)', () => {
  it('expands a dotted name bottom first', () => {
    expect(layerChain('ubuntu-server-minimal.ubuntu-server.installer.generic.squashfs')).toEqual([
      'ubuntu-server-minimal.squashfs',
      'ubuntu-server-minimal.ubuntu-server.squashfs',
      'ubuntu-server-minimal.ubuntu-server.installer.squashfs',
      'ubuntu-server-minimal.ubuntu-server.installer.generic.squashfs',
    ]);
    expect(layerChain('filesystem.squashfs')).toEqual(['filesystem.squashfs']);
  });
  it('keeps the hyphen inside a part (generic-hwe is one suffix)', () => {
    expect(layerChain('a.b.generic-hwe.squashfs')).toEqual(['a.squashfs', 'a.b.squashfs', 'a.b.generic-hwe.squashfs']);
  });
  it('finds the lowers and the gaps', () => {
    const present = (n: string): boolean => JAMMY_CASPER.has(n);
    expect(lowerLayersOf('ubuntu-server-minimal.ubuntu-server.squashfs', present)).toEqual(['ubuntu-server-minimal.squashfs']);
    expect(missingChainLayers('ubuntu-server-minimal.ubuntu-server.installer.generic-hwe.squashfs', present)).toEqual([]);
    expect(missingChainLayers('ubuntu-server-minimal.x.novasphere.squashfs', present)).toEqual([
      'ubuntu-server-minimal.x.squashfs',
      'ubuntu-server-minimal.x.novasphere.squashfs',
    ]);
  });
});

describe('default install source (subiquity SourceModel)', () => {
  it('takes default: true wherever it is', () => {
    const sources = parse(JAMMY) as unknown[];
    expect(defaultInstallSource(sources)?.id).toBe('ubuntu-server');
    expect(defaultInstallSource([...sources].reverse())?.id).toBe('ubuntu-server');
  });
  it('falls back to the first entry, not the last', () => {
    expect(defaultInstallSource([{ id: 'a', path: 'a.squashfs' }, { id: 'b', path: 'a.b.squashfs' }])?.id).toBe('a');
    expect(defaultInstallSource([])).toBeUndefined();
    expect(defaultInstallSource({ id: 'x' })).toBeUndefined();
  });
  it('installs the chain for fsimage-layered and one image for fsimage: never the installer layers', () => {
    const sources = parse(JAMMY) as { id: string; path: string; type: string }[];
    const installed = installedLayers(defaultInstallSource(sources)!);
    expect(installed).toEqual(['ubuntu-server-minimal.squashfs', 'ubuntu-server-minimal.ubuntu-server.squashfs']);
    expect(installed.some((l) => l.includes('installer'))).toBe(false);
    expect(installedLayers(sources[0]!)).toEqual(['ubuntu-server-minimal.squashfs']);
  });
});

describe('install-sources.yaml rewriting', () => {
  it('changes path and size of one entry and keeps every other field and entry', () => {
    const out = rewriteInstallSources(JAMMY, 'ubuntu-server', { path: 'ubuntu-server-minimal.ubuntu-server.novasphere.squashfs', size: 1234 });
    const before = parse(JAMMY) as Record<string, unknown>[];
    const after = parse(out) as Record<string, unknown>[];
    expect(after).toHaveLength(2);
    expect(after[0]).toEqual(before[0]);
    expect(after[1]).toEqual({ ...before[1], path: 'ubuntu-server-minimal.ubuntu-server.novasphere.squashfs', size: 1234 });
    expect(Object.keys(after[1]!)).toEqual(Object.keys(before[1]!));
  });
  it('refuses an unknown id', () => {
    expect(() => rewriteInstallSources(JAMMY, 'nope', { size: 1 })).toThrow(/no source with id nope/);
  });
});
