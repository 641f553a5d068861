/**
 * Stage: reads the UnpackedRootfs (its layer in work.layer and its cache key); produces the CachedRootfs: the customized
 * rootfs moved into the stage cache for the next build in this work directory, and the overlay above it where this
 * build goes on (see stage-cache.ts).
 */
import { removeLeftovers } from '../apt-leftovers.js';
import { storeRootfs } from '../stage-cache.js';
import { mountChanges, type CachedRootfs } from '../rootfs-mounts.js';
import type { UnpackedRootfs } from './unpack-rootfs.js';
import type { BuildInputs } from '../context.js';
import type { RootfsLayout } from '../layout.js';
import type { Reporter } from '../pipeline/reporter.js';

export async function saveRootfsCacheStage(ctx: BuildInputs, layout: RootfsLayout, rootfs: UnpackedRootfs, task: Reporter): Promise<CachedRootfs> {
  if (rootfs.fromCache) return rootfs.fromCache;
  // The squashfs images stay mounted: mountChanges puts a new overlay on the same images.
  await rootfs.mounts.unmountOverlay();
  // What apt and dpkg left behind goes before the layer is kept (later leftovers: repack-rootfs.ts).
  removeLeftovers(ctx.work.layer);
  const layer = await storeRootfs(ctx.work.root, rootfs.cacheKey, ctx.work.layer);
  const cached = await mountChanges(ctx, layout, rootfs.mounts, layer);
  task.title = `Save the customized rootfs to the stage cache (${rootfs.cacheKey.slice(0, 12)})`;
  return cached;
}
