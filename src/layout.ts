/**
 * The rootfs layout of a base ISO: which squashfs holds the system to customize (Ubuntu casper, Ubuntu layered casper,
 * Debian live), what sits below it, and how the changes reach the new ISO (repack it, or a new layer on top).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { defaultInstallSource, lowerLayersOf, missingChainLayers } from './casper-layers.js';
import { IsoBuildError, ExitCode } from './errors.js';
import type { BaseLayout } from './profile/schema.js';
import type { Packing } from './base-compression.js';
import { MAX_YAML_ALIASES } from './profile/source.js';

export type LayoutKind = 'casper' | 'casper-layered' | 'debian-live';

/** What the ISO tree and the profile's strategy say, before the packing is resolved (stages/detect-layout.ts). */
export interface DetectedLayout {
  kind: LayoutKind;
  /** The squashfs being customized, relative to the ISO tree. */
  squashfs: string;
  /** Layered casper: the layers below it, bottom first, relative to the ISO tree. */
  lowers: string[];
  /** Sibling files rewritten with the squashfs, relative to the ISO tree. */
  sizeFile: string;
  manifestFile: string;
  /** Layered casper: the install-sources.yaml entry id that installs this layer. */
  installSourceId?: string;
  /**
   * `repack`: `squashfs` is unpacked, changed and packed again in place.
   * `layer`: `squashfs` and everything below it stay untouched; the changes become `newLayer` on top.
   */
  strategy: 'repack' | 'layer';
  /** Layer strategy: the new top layer, relative to the ISO tree (its .size/.manifest are sizeFile/manifestFile). */
  newLayer?: string;
}

export interface RootfsLayout extends DetectedLayout {
  /** How the changed squashfs is packed: the profile's compression, `auto` resolved from the base (base-compression.ts). */
  packing: Packing;
  /**
   * Repack of a single squashfs whose compression the profile's matches (base-compression.ts): it is not unpacked but
   * mounted read-only under the rootfs view, and the changes are merged into it reusing its compressed blocks
   * (squashfs-merge.ts), so nothing that did not change is decompressed or compressed again.
   */
  mergeIntoBase?: boolean;
}

/**
 * The images the changed squashfs sits on in the installed system, bottom first, relative to the ISO tree: what is
 * mounted read-only under the rootfs view (a new layer sits on the customized squashfs and its lowers).
 */
export function imagesBelowChanged(layout: DetectedLayout): string[] {
  return layout.newLayer ? [...layout.lowers, layout.squashfs] : layout.lowers;
}

/** The images mounted read-only under the rootfs view, bottom first: those below the changed one, and with mergeIntoBase the changed one itself. */
export function imagesUnderView(layout: RootfsLayout): string[] {
  return layout.mergeIntoBase ? [...layout.lowers, layout.squashfs] : imagesBelowChanged(layout);
}

/** The squashfs in the new ISO that holds this build's changes (and so its VERSION). */
export function changedImage(layout: DetectedLayout): string {
  return layout.newLayer ?? layout.squashfs;
}

/**
 * Decide how changes reach the ISO. A new top layer is only possible where casper stacks layers by name;
 * it is named after the product so that casper's a.b.c naming puts it on top of the layer it extends.
 */
export function withStrategy(layout: DetectedLayout, wanted: 'auto' | 'repack' | 'layer', product: string): DetectedLayout {
  const strategy = wanted === 'auto' ? (layout.kind === 'casper-layered' ? 'layer' : 'repack') : wanted;
  if (strategy === 'repack') return { ...layout, strategy };
  if (layout.kind !== 'casper-layered') {
    throw new IsoBuildError(`rootfs.strategy "layer" needs a layered casper base ISO; this one is ${layout.kind}`, {
      hint: 'use strategy: repack (or auto) for this base',
      exitCode: ExitCode.Usage,
    });
  }
  const stem = `${layout.squashfs.replace(/\.squashfs$/, '')}.${product}`;
  return {
    ...layout,
    strategy,
    newLayer: `${stem}.squashfs`,
    sizeFile: `${stem}.size`,
    manifestFile: `${stem}.manifest`,
  };
}

export function detectLayout(tree: string, wanted: BaseLayout, rootfsLayer?: string): DetectedLayout {
  const kind = wanted === 'auto' ? guessKind(tree) : wanted;
  switch (kind) {
    case 'casper':
      return single(tree, 'casper/filesystem.squashfs', 'casper/filesystem.size', 'casper/filesystem.manifest', kind);
    case 'debian-live':
      return single(tree, 'live/filesystem.squashfs', 'live/filesystem.size', 'live/filesystem.packages', kind);
    case 'casper-layered':
      return layered(tree, rootfsLayer);
  }
}

function guessKind(tree: string): LayoutKind {
  if (existsSync(join(tree, 'casper/install-sources.yaml'))) return 'casper-layered';
  if (existsSync(join(tree, 'casper/filesystem.squashfs'))) return 'casper';
  if (existsSync(join(tree, 'live/filesystem.squashfs'))) return 'debian-live';
  throw noRootfs('casper/filesystem.squashfs, casper/install-sources.yaml with casper/*.squashfs, live/filesystem.squashfs');
}

function noRootfs(lookedFor: string): IsoBuildError {
  return new IsoBuildError(`the base ISO has no rootfs squashfs (looked for ${lookedFor})`, {
    hint: 'use an Ubuntu live-server or Debian live ISO, or set base.layout in the profile',
    exitCode: ExitCode.Usage,
  });
}

function single(tree: string, squashfs: string, sizeFile: string, manifestFile: string, kind: LayoutKind): DetectedLayout {
  if (!existsSync(join(tree, squashfs))) throw noRootfs(squashfs);
  return { kind, squashfs, lowers: [], sizeFile, manifestFile, strategy: 'repack' };
}

const SOURCES_FILE = 'casper/install-sources.yaml';

function badBase(message: string, hint: string): IsoBuildError {
  return new IsoBuildError(message, { hint, exitCode: ExitCode.Usage });
}

/** install-sources.yaml as data; a file that is not YAML is bad input (the base's), not a crash. */
function readInstallSources(file: string): unknown {
  try {
    return parseYaml(readFileSync(file, 'utf8'), { maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    const why = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
    throw badBase(`${SOURCES_FILE} of the base ISO is not valid YAML: ${why}`, 'use an unmodified Ubuntu live-server ISO, or set base.rootfsLayer in the profile');
  }
}

/**
 * Layers stack by name as in casper: a.b.c.squashfs sits on a.b.squashfs, which sits on a.squashfs.
 * The layer to edit is the top of what the installer copies by default (install-sources.yaml `default: true`),
 * so changes reach the installed system, not only the live session.
 */
function layered(tree: string, rootfsLayer?: string): DetectedLayout {
  const casper = join(tree, 'casper');
  const sourcesFile = join(tree, SOURCES_FILE);
  let target = rootfsLayer?.replace(/^casper\//, '');
  let id: string | undefined;
  // Where the layer's name came from, for messages.
  let named = 'base.rootfsLayer';
  if (!target) {
    if (!existsSync(sourcesFile)) throw noRootfs(SOURCES_FILE);
    const chosen = defaultInstallSource(readInstallSources(sourcesFile));
    const hint = 'subiquity installs the entry with "default: true" (else the first); set base.rootfsLayer in the profile to choose the layer';
    if (!chosen) throw badBase(`${SOURCES_FILE} of the base ISO lists no install sources, so there is no default source to customize`, hint);
    named = `${SOURCES_FILE} (source ${chosen.id ?? 'without id'}, the default)`;
    if (!chosen.path) throw badBase(`${named} has no path: the layer the installer copies is not named`, hint);
    target = chosen.path;
    id = chosen.id;
  }
  if (!target.endsWith('.squashfs') || !existsSync(join(casper, target))) {
    const have = existsSync(casper) ? readdirSync(casper).filter((f) => f.endsWith('.squashfs')) : [];
    throw badBase(`layer casper/${target} named by ${named} is not on the base ISO`, `casper has: ${have.join(', ') || 'no squashfs'}`);
  }
  // A gap in the chain (a.b.c without a.b) makes casper and curtin refuse the medium: not a layout to build on.
  const gaps = missingChainLayers(target, (name) => existsSync(join(casper, name)));
  if (gaps.length > 0) {
    throw badBase(
      `casper/${target} named by ${named} sits on missing layers: ${gaps.map((g) => `casper/${g}`).join(', ')}`,
      'casper and curtin stack a.b.c.squashfs on a.b.squashfs and a.squashfs; every one must exist',
    );
  }
  const lowers = lowerLayersOf(target, (name) => existsSync(join(casper, name))).map((name) => `casper/${name}`);
  const stem = `casper/${target.replace(/\.squashfs$/, '')}`;
  return {
    kind: 'casper-layered',
    squashfs: `casper/${target}`,
    lowers,
    sizeFile: `${stem}.size`,
    manifestFile: `${stem}.manifest`,
    installSourceId: id,
    strategy: 'repack',
  };
}
