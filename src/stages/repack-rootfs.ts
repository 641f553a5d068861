/**
 * Stage: reads the layout, the rootfs mounts and the CachedRootfs with this build's changes; produces the RepackedRootfs
 * (package list and installed size of the customized system): apt/dpkg leftovers dropped (they embed times and host
 * state), the changes packed and merged into the cached layer's squashfs, with its .size/.manifest siblings written.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { ISO_TREE, readFileBeneath, writeFileBeneath } from '../safe-path.js';
import { IsoBuildError } from '../errors.js';
import { basename, join } from 'node:path';
import { isoMenuFiles } from '../boot-config/iso-menus.js';
import { rewriteInstallSources } from '../install-sources.js';
import { removeLeftovers } from '../apt-leftovers.js';
import { dpkgChangedSince, packageManifest } from '../package-list.js';
import { mksquash } from '../tools/squashfs.js';
import { toolVersion } from '../tools/versions.js';
import { together } from '../lifecycle.js';
import { mergeSquashfs } from '../image/squashfs-merge.js';
import { layerBytes, type SizeIndex } from '../image/rootfs.js';
import { openImages } from '../image/open-images.js';
import { packedLayerPath } from '../stage-cache.js';
import { hooksSkip } from './skips.js';
import { changedImage, imagesBelowChanged, type RootfsLayout } from '../layout.js';
import { progressReporter, type Reporter } from '../pipeline/reporter.js';
import type { BuildInputs } from '../context.js';
import type { CachedRootfs } from '../rootfs-mounts.js';
import type { UnpackedRootfs } from './unpack-rootfs.js';

export interface RepackedRootfs {
  /** `dpkg-query` package list of the customized rootfs, taken while it was visible. */
  packageManifest?: string;
  /** Sum of the sizes of all non-directories of the customized system (deterministic, unlike du). */
  installedSize: number;
  /**
   * The base's squashfs with the changes merged into it (mergeIntoBase): its ISO path and how many of its leading bytes
   * are the base file's own (squashfs-merge.ts), which the in-place writer leaves where they are.
   */
  grownFromBase?: { iso: string; keptBytes: number };
}

export async function repackRootfsStage(
  ctx: BuildInputs,
  layout: RootfsLayout,
  unpacked: UnpackedRootfs,
  rootfs: CachedRootfs,
  task: Reporter,
): Promise<RepackedRootfs> {
  const view = rootfs.view;
  // Read at the stage-cache point in the background; again only if something after it touched dpkg's database.
  const packages = !dpkgChangedSince(ctx.work.changes, view) ? await rootfs.packagesAtCachePoint : await packageManifest(view);
  // Leftovers from what ran after the stage-cache point (a hook that used apt): only those this build made.
  removeLeftovers(view, ctx.work.changes);
  // Unmounted in the background (the build's end waits for it): mksquashfs reads the overlay's lower and upper
  // directories, which nothing writes now.
  void unpacked.mounts.close().catch(() => undefined);
  const image = join(ctx.work.tree, changedImage(layout));
  const { compression, level: compressionLevel } = layout.packing;
  const level = compressionLevel ? ` level ${compressionLevel}` : '';
  task.title = layout.newLayer
    ? `Pack the changes as ${layout.newLayer} (${compression}${level}, all cores; base layers untouched)`
    : layout.mergeIntoBase
      ? `Merge the changes into ${layout.squashfs} (${compression}${level} like the base: its compressed blocks reused)`
      : `Repack rootfs squashfs (${compression}${level}, all cores)`;
  // The cached layer is packed once per stage-cache entry; each build packs only its own changes and merges them
  // in, reusing the layer's compressed blocks as they are (squashfs-merge.ts).
  const packing = { compression, level: compressionLevel, tables: 'plain', mksquashfs: await toolVersion('mksquashfs') };
  const packed = packedLayerPath(rootfs.layer, packing);
  const pack = (from: string, to: string, epochSeconds: number, progress: boolean): Promise<void> =>
    mksquash(from, to, {
      compression,
      level: compressionLevel,
      epochSeconds,
      plainTables: true, // both are only read by the merge
      log: ctx.log,
      onProgress: progress ? progressReporter(task, 'mksquashfs') : undefined,
    });
  const changes = join(ctx.work.root, 'changes.squashfs');
  // The changes are packed alongside the (much bigger) cached layer when that is not packed yet.
  const packLayer = async (): Promise<void> => {
    if (existsSync(packed)) return;
    await pack(rootfs.layer, `${packed}.partial`, 0, true);
    renameSync(`${packed}.partial`, packed);
  };
  await together(packLayer(), pack(ctx.work.changes, changes, ctx.epochSeconds, false));
  const fresh = `${image}.new`;
  // A layer over other images keeps its whiteouts and opaque markers; a whole filesystem gets them applied.
  const keepWhiteouts = imagesBelowChanged(layout).length > 0;
  // mergeIntoBase: the cached layer is an upper dir over the base image, so both go onto the base as it is.
  const [base, layers] = layout.mergeIntoBase ? [image, [packed, changes]] : [packed, [changes]];
  const merged = await mergeSquashfs({ base, changes: layers, out: fresh, keepWhiteouts, mtime: ctx.epochSeconds });
  ctx.log.line(`merged ${layers.map((l) => basename(l)).join(' and ')} into ${basename(base)}: ${merged.inodes} inodes, ${merged.reusedBytes} bytes reused, ${merged.addedBytes} bytes added`);
  rmSync(changes, { force: true });
  renameSync(fresh, image);
  // The base's detached signature (NAME.squashfs.gpg, Ubuntu's CD key) no longer matches the changed layer. Nothing
  // in casper, subiquity or curtin verifies it (ubuntu-facts.md), and only the base's key could re-sign it: remove it
  // rather than ship a signature that fails. The release's SHA256SUMS(.asc) covers the new ISO instead.
  const staleSignature = `${image}.gpg`;
  if (existsSync(staleSignature)) {
    rmSync(staleSignature);
    ctx.log.line(`removed the stale signature ${basename(staleSignature)} of the changed layer`);
  }
  const installed = merged.fileBytes ?? (await installedSize(image, unpacked.sizesBelow));
  // A layer's NAME.size is the bytes of its own content (livecd-rootfs: du of the layer's upper dir, ubuntu-facts.md);
  // the whole chain's installed size goes into install-sources.yaml. For a single squashfs the two are the same.
  // Written without following a link out of the tree (safe-path.ts): a pre-repack hook may have changed it.
  writeFileBeneath(ctx.work.tree, layout.sizeFile, `${merged.ownBytes}\n`, { what: ISO_TREE });
  if (packages !== undefined) writeFileBeneath(ctx.work.tree, layout.manifestFile, packages, { what: ISO_TREE });
  if (layout.installSourceId) updateInstallSource(ctx, layout.installSourceId, layout.newLayer, installed);
  if (layout.newLayer) pointBootEntriesAt(ctx, layout.squashfs, layout.newLayer);
  // The merge read the base's squashfs from the extracted tree; a pre-repack hook could have replaced that file, so
  // the claim is made only without one (the in-place writer also compares samples of the bytes).
  const grownFromBase = layout.mergeIntoBase && hooksSkip(ctx, 'pre-repack') !== false ? { iso: changedImage(layout), keptBytes: merged.baseBytesKept } : undefined;
  return { packageManifest: packages, installedSize: installed, ...(grownFromBase ? { grownFromBase } : {}) };
}

/**
 * The installed size of a layer (the sum of the sizes of all non-directories: stable across builds, unlike `du`) over
 * the images below it, read from the tables in-process: only the layer is walked, over the sizes of the images below
 * (indexed in the background). A walk of the mounted stack would decompress every inode again.
 */
async function installedSize(image: string, below: Promise<SizeIndex> | undefined): Promise<number> {
  // A merge over nothing reports the size from its own tree; only a layer over images needs their index.
  if (below === undefined) throw new Error(`the installed size of ${image}: no size index of the images below it`);
  const top = await openImages([image]);
  try {
    const [layer] = top.layers;
    if (layer === undefined) throw new Error(`${image} did not open as a squashfs layer`);
    return await layerBytes(layer, await below);
  } finally {
    await top.close();
  }
}

/**
 * The installer copies the stack named by the default source's path and checks its size: keep both in step
 * with the new layer.
 */
function updateInstallSource(ctx: BuildInputs, id: string, newLayer: string | undefined, installedSize: number): void {
  const rel = 'casper/install-sources.yaml';
  const text = readFileBeneath(ctx.work.tree, rel, ISO_TREE);
  if (text === undefined) throw new IsoBuildError(`the ISO tree has no ${rel} any more`, { hint: 'a pre-repack hook removed it; the installer needs it' });
  writeFileBeneath(ctx.work.tree, rel, rewriteInstallSources(text.toString('utf8'), id, { size: installedSize, ...(newLayer ? { path: basename(newLayer) } : {}) }), { what: ISO_TREE });
}

/** Boot entries that run the edited stack live (casper's layerfs-path=) should run it with the new layer on top. */
function pointBootEntriesAt(ctx: BuildInputs, oldLayer: string, newLayer: string): void {
  const from = `layerfs-path=${basename(oldLayer)}`;
  const to = `layerfs-path=${basename(newLayer)}`;
  for (const cfg of isoMenuFiles(ctx.work.tree)) {
    const text = readFileBeneath(ctx.work.tree, cfg, ISO_TREE)?.toString('utf8');
    if (text === undefined) continue;
    const pattern = new RegExp(`${from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=\\s|$)`, 'g');
    if (pattern.test(text)) {
      writeFileBeneath(ctx.work.tree, cfg, text.replace(pattern, to), { what: ISO_TREE });
      ctx.log.line(`${cfg}: ${from} -> ${to}`);
    }
  }
}
