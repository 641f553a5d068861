/**
 * The immutable inputs of one build: the profile, version and epoch, its work and output paths, the cache, the log and
 * the resources it owns. What the stages find out is not here: each stage returns its own typed result (src/pipeline).
 */
import { join, resolve } from 'node:path';
import type { BuildLog } from './build-log.js';
import type { ResourceStack } from './lifecycle.js';
import type { OwnerLock } from './owner-lock.js';
import type { Profile } from './profile/schema.js';

export interface WorkPaths {
  root: string;
  /** The ISO tree: the extracted base (stage cache) under an overlay whose upper dir, `treeChanges`, gets the edits. */
  tree: string;
  treeChanges: string;
  treeWork: string;
  /**
   * The unpacked rootfs squashfs (for layered casper: the layer being edited, an overlayfs upper dir) until the
   * stage cache takes it; what changes after that point collects in `changes`.
   */
  layer: string;
  /** overlayfs upper dir of everything changed after the stage-cache point (overlay files, VERSION, later hooks). */
  changes: string;
  /** Where the rootfs is mounted when it is a stack (lower squashfs layers, the cached layer, `changes`). */
  merged: string;
  lowers: string;
  overlayWork: string;
  /** Scratch space for verifying the new ISO. */
  verify: string;
  log: string;
}

export function workPaths(root: string): WorkPaths {
  const r = resolve(root);
  return {
    root: r,
    tree: join(r, 'iso'),
    treeChanges: join(r, 'iso-changes'),
    treeWork: join(r, 'iso-overlay-work'),
    layer: join(r, 'rootfs'),
    changes: join(r, 'changes'),
    merged: join(r, 'merged'),
    lowers: join(r, 'lowers'),
    overlayWork: join(r, 'overlay-work'),
    verify: join(r, 'verify'),
    log: join(r, 'build.log'),
  };
}

/** The scratch directories of a build (not the stage cache, not the log): removed after a build unless --keep-work. */
export const SCRATCH_DIRS = ['tree', 'treeChanges', 'treeWork', 'layer', 'changes', 'merged', 'lowers', 'overlayWork', 'verify'] as const;

export interface BuildInputs {
  readonly profile: Profile;
  readonly version: string;
  readonly epochSeconds: number;
  readonly work: WorkPaths;
  readonly log: BuildLog;
  /** Mounts, sessions and temp files this build holds, released last in, first out whatever the outcome. */
  readonly resources: ResourceStack;
  readonly cacheDir: string;
  readonly outputDir: string;
  readonly outputIso: string;
  readonly partialIso: string;
  /** The topmost directory of outputDir this build created, if any (removed again when a failed build leaves it empty). */
  readonly createdOutputDir?: string;
  /** Held on outputDir for the build's life (released at exit; a failed build lets go first, to remove what it created). */
  readonly outputLock: OwnerLock;
  /** Added to the environment of the profile's host hooks (the reproducibility check's second build sets another TZ). */
  readonly childEnv: Readonly<Record<string, string>>;
}
