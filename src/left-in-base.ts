/**
 * Files of the base ISO that are not extracted into the work directory: the package archive on the medium (`pool/`,
 * Debian's and Ubuntu's; on a real ISO hundreds of MB of .debs, on the bench's 2 GB base 1.8 GB). No stage reads
 * them and the write copies them from the base ISO (xorriso's modify mode), so extracting them would only cost time
 * and disk. Host hooks get the ISO tree's path and may read anything in it: with a pre-repack or post-build hook in
 * the profile the whole tree is extracted.
 */
import { IsoImage, contiguousRange, type IsoEntry } from './image/iso9660.js';
import { corrupt, withSource } from './image/source.js';
import { unlistableName, unlistableNameError } from './safe-path.js';
import { hooksSkip } from './stages/skips.js';
import type { Profile } from './profile/schema.js';

/** Top-level directories of the ISO left in the base. */
export const LEFT_IN_BASE_DIRS: readonly string[] = ['pool'];

export interface LeftFile {
  /** Relative, '/'-separated, as md5sum.txt lists it without "./". */
  path: string;
  size: number;
  /** Where its bytes lie in the base ISO (undefined for a file split into distant extents). */
  offset?: number;
}

export interface LeftInBase {
  /** The regular files under the left directories. */
  files: LeftFile[];
  /** Those directories and every directory under them (the tree overlay does not have them). */
  dirs: string[];
}

/** Whether this build leaves LEFT_IN_BASE_DIRS in the base: not when a host hook could read the ISO tree. */
export function leavesInBase(profile: Profile): boolean {
  // The hooks stage's own skip rule says whether they run.
  return hooksSkip({ profile }, 'pre-repack') !== false && hooksSkip({ profile }, 'post-build') !== false;
}

/**
 * The base ISO's top-level names, and what lies under the left directories (read in-process, nothing extracted).
 * Undefined for a base without Rock Ridge: xorriso's names for its files could differ from the reader's.
 */
export async function listLeftInBase(iso: string): Promise<{ rootNames: string[]; left: LeftInBase } | undefined> {
  return withSource(iso, async (source) => {
    const image = await IsoImage.open(source);
    if (image.nameSource !== 'rockridge') return undefined;
    const root = await image.readdir(image.root());
    const left: LeftInBase = { files: [], dirs: [] };
    // A crafted image can point a directory record at an ancestor: each directory extent is walked once.
    const seen = new Set<number>();
    const walk = async (dir: IsoEntry, rel: string): Promise<void> => {
      const at = dir.extents[0]?.offset ?? -1;
      if (seen.has(at)) throw corrupt(iso, `directory /${rel}`, 'it shares its extent with a directory already listed (a loop in a crafted image)');
      seen.add(at);
      left.dirs.push(rel);
      const entries = await image.readdir(dir);
      checkNames(entries, `directory /${rel}`, rel);
      for (const e of entries) {
        const path = `${rel}/${e.name}`;
        if (e.isDir) await walk(e, path);
        else if ((e.mode & 0o170000) === 0o100000) {
          const range = contiguousRange(e);
          left.files.push({ path, size: e.size, ...(range ? { offset: range.offset } : {}) });
        }
      }
    };
    // The names become paths (xorriso's -extract /NAME, md5sum.txt lines): one that is not a plain name is refused,
    // one md5sum.txt cannot list as the extracted tree's check (safe-path.ts) refuses it.
    const checkNames = (entries: IsoEntry[], where: string, rel: string): void => {
      const odd = entries.find((e) => e.name === '' || e.name === '.' || e.name === '..' || /[/\0]/.test(e.name));
      if (odd) throw corrupt(iso, where, `it names an entry ${JSON.stringify(odd.name)}, which is not a file name`);
      const unlistable = rel ? entries.find((e) => unlistableName(e.name)) : undefined;
      if (unlistable) throw unlistableNameError(`the base ISO ${iso}`, `${rel}/${unlistable.name}`);
    };
    checkNames(root, 'the root directory', ''); // the extracted names are checked with the tree
    for (const e of root) if (e.isDir && LEFT_IN_BASE_DIRS.includes(e.name)) await walk(e, e.name);
    return { rootNames: root.map((e) => e.name), left };
  });
}
