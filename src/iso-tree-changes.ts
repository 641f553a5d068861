/**
 * What this build changed in the ISO tree, as xorriso commands for a modify-mode write over the base ISO: the names
 * to remove and the files to map. Read from the tree overlay's upper dir, with the merged view as the truth for what
 * is gone: a name the base has but the merged view lacks was deleted (a whiteout or an opaque directory hides it), so
 * overlayfs's markers (whiteout devices, the trusted.overlay.opaque xattr) need not be parsed here.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';

export interface IsoTreeChanges {
  /** Paths in the base ISO (relative, '/'-separated) to remove before mapping: deleted, or replaced by another type. */
  removed: string[];
  /** Files, symlinks and whole new directories to insert: disk path and path in the ISO. */
  mapped: { disk: string; iso: string }[];
}

export interface TreeDirs {
  /** The extracted base tree (the overlay's lower dir). */
  base: string;
  /** The overlay's upper dir: this build's edits. */
  changes: string;
  /** The overlay mount: base and edits merged. */
  merged: string;
  /** Directories the base ISO has but the extracted tree lacks (left-in-base.ts): merged into, never replaced. */
  leftDirs?: ReadonlySet<string>;
}

export function isoTreeChanges(dirs: TreeDirs): IsoTreeChanges {
  const out: IsoTreeChanges = { removed: [], mapped: [] };
  walk(dirs, '', out);
  // Sorted, so the xorriso command (and the build log) does not depend on readdir order.
  out.removed.sort();
  out.mapped.sort((a, b) => (a.iso < b.iso ? -1 : a.iso > b.iso ? 1 : 0));
  return out;
}

function walk(dirs: TreeDirs, rel: string, out: IsoTreeChanges): void {
  const at = (root: string, name: string): string => join(root, rel, name);
  const child = (name: string): string => (rel ? `${rel}/${name}` : name);
  // A directory both sides have: what the base holds and the merged view does not was deleted by this build.
  const merged = new Set(readdirSync(join(dirs.merged, rel)));
  const inBase = lstatOrUndefined(join(dirs.base, rel))?.isDirectory() ? readdirSync(join(dirs.base, rel)) : [];
  for (const name of inBase) if (!merged.has(name)) out.removed.push(child(name));
  for (const name of readdirSync(join(dirs.changes, rel))) {
    const edit = lstatSync(at(dirs.changes, name));
    // A whiteout (a 0/0 character device): its name is already among the removed above.
    if (edit.isCharacterDevice() && edit.rdev === 0) continue;
    const below = lstatOrUndefined(at(dirs.base, name));
    if (edit.isDirectory() && (below?.isDirectory() || dirs.leftDirs?.has(child(name)))) {
      walk(dirs, child(name), out);
      continue;
    }
    // A new name, or one whose type changed: a directory the base had is removed first (xorriso -map does not
    // overwrite a directory); a new directory is mapped whole.
    if (below?.isDirectory()) out.removed.push(child(name));
    out.mapped.push({ disk: at(dirs.changes, name), iso: child(name) });
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** The edits as the in-place writer takes them (image/iso-in-place.ts): files with their sizes and modes, new dirs. */
export interface ExpandedChanges {
  removed: string[];
  dirs: string[];
  files: { iso: string; disk: string; size: number; mode: number }[];
}

/**
 * Mapped directories walked into their files, with mkisofs -r's modes (read for all, x for all where any x, no write
 * bits), as xorriso's `-find / -exec mkisofs_r` gives them. A symlink or special file among the edits returns a
 * reason: the in-place writer makes regular files and directories only.
 */
export function expandChanges(changes: IsoTreeChanges): ExpandedChanges | { reason: string } {
  const out: ExpandedChanges = { removed: [...changes.removed], dirs: [], files: [] };
  const visit = (disk: string, iso: string): string | undefined => {
    const st = lstatSync(disk);
    if (st.isFile()) {
      out.files.push({ iso, disk, size: st.size, mode: 0o100444 | (st.mode & 0o111 ? 0o111 : 0) });
      return undefined;
    }
    if (!st.isDirectory()) return `/${iso} is ${st.isSymbolicLink() ? 'a symlink' : 'a special file'}`;
    out.dirs.push(iso);
    for (const name of readdirSync(disk).sort()) {
      const reason = visit(join(disk, name), `${iso}/${name}`);
      if (reason) return reason;
    }
    return undefined;
  };
  for (const m of changes.mapped) {
    const reason = visit(m.disk, m.iso);
    if (reason) return { reason };
  }
  out.files.sort((a, b) => (a.iso < b.iso ? -1 : a.iso > b.iso ? 1 : 0));
  return out;
}
