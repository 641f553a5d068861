/** Stage 3: which squashfs holds the system to customize (Ubuntu casper, Ubuntu layered casper, Debian live). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { defaultInstallSource, lowerLayersOf, missingChainLayers } from '../casper-layers.js';
import { IsoBuildError, ExitCode } from '../errors.js';
import type { LayoutKind, RootfsLayout } from '../context.js';
import type { BaseLayout } from '../profile/schema.js';
import type { StageTask } from './task.js';

export const detectLayoutStage: StageTask = {
  task: (ctx, task) => {
    const detected = detectLayout(ctx.work.tree, ctx.profile.base.layout, ctx.profile.base.rootfsLayer);
    const layout = withStrategy(detected, ctx.profile.rootfs.strategy, ctx.profile.name);
    ctx.layout = layout;
    const lowers = layout.lowers.length ? ` over ${layout.lowers.join(', ')}` : '';
    const why = layout.kind === 'casper-layered' ? ` (installed system: ${layout.installSourceId ?? 'profile choice'})` : '';
    const what = layout.newLayer ? `new layer ${layout.newLayer} on ${layout.squashfs}${lowers}` : `customizing ${layout.squashfs}${lowers}`;
    task.title = `Detect rootfs layout: ${layout.kind}, ${what}${why}`;
    ctx.log.line(`layout ${layout.kind}, strategy ${layout.strategy}: ${what}${why}`);
  },
};

/**
 * Decide how changes reach the ISO. A new top layer is only possible where casper stacks layers by name;
 * it is named after the product so that casper's a.b.c naming puts it on top of the layer it extends.
 */
export function withStrategy(layout: RootfsLayout, wanted: 'auto' | 'repack' | 'layer', product: string): RootfsLayout {
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

export function detectLayout(tree: string, wanted: BaseLayout, rootfsLayer?: string): RootfsLayout {
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

function single(tree: string, squashfs: string, sizeFile: string, manifestFile: string, kind: LayoutKind): RootfsLayout {
  if (!existsSync(join(tree, squashfs))) throw noRootfs(squashfs);
  return { kind, squashfs, lowers: [], sizeFile, manifestFile, strategy: 'repack' };
}

/**
 * Layers stack by name as in casper: a.b.c.squashfs sits on a.b.squashfs, which sits on a.squashfs.
 * The layer to edit is the top of what the installer copies by default (install-sources.yaml `default: true`),
 * so changes reach the installed system, not only the live session.
 */
function layered(tree: string, rootfsLayer?: string): RootfsLayout {
  const casper = join(tree, 'casper');
  const sourcesFile = join(casper, 'install-sources.yaml');
  let target = rootfsLayer?.replace(/^casper\//, '');
  let id: string | undefined;
  if (!target) {
    if (!existsSync(sourcesFile)) throw noRootfs('casper/install-sources.yaml');
    const chosen = defaultInstallSource(parseYaml(readFileSync(sourcesFile, 'utf8')));
    if (!chosen) throw new IsoBuildError(`casper/install-sources.yaml of the base ISO lists no sources`, { exitCode: ExitCode.Usage });
    if (!chosen.path) throw new IsoBuildError(`install-sources.yaml entry ${chosen.id ?? '?'} has no path`, { exitCode: ExitCode.Usage });
    target = chosen.path;
    id = chosen.id;
  }
  if (!target.endsWith('.squashfs') || !existsSync(join(casper, target))) {
    const have = existsSync(casper) ? readdirSync(casper).filter((f) => f.endsWith('.squashfs')) : [];
    throw new IsoBuildError(`layer casper/${target} is not on the base ISO`, {
      hint: `casper has: ${have.join(', ') || 'no squashfs'}`,
      exitCode: ExitCode.Usage,
    });
  }
  // A gap in the chain (a.b.c without a.b) makes casper and curtin refuse the medium: not a layout to build on.
  const gaps = missingChainLayers(target, (name) => existsSync(join(casper, name)));
  if (gaps.length > 0) {
    throw new IsoBuildError(`casper/${target}${id ? ` (install-sources.yaml source ${id})` : ''} sits on missing layers: ${gaps.map((g) => `casper/${g}`).join(', ')}`, {
      hint: 'casper and curtin stack a.b.c.squashfs on a.b.squashfs and a.squashfs; every one must exist',
      exitCode: ExitCode.Usage,
    });
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
