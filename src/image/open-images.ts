/** squashfs image files opened with the in-process reader, for reading several of them as a stack. */
import { SquashFs } from './squashfs.js';
import { openSource, type OpenedSource } from './source.js';

export interface OpenedImages {
  /** In the order the paths were given. */
  layers: SquashFs[];
  /** Closes the files; safe to call more than once. */
  close(): Promise<void>;
}

export async function openImages(paths: string[]): Promise<OpenedImages> {
  const opened: OpenedSource[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(opened.splice(0).map((o) => o.close()));
  };
  try {
    for (const path of paths) opened.push(await openSource(path));
    return { layers: await Promise.all(opened.map((o) => SquashFs.open(o.source))), close };
  } catch (err) {
    await close();
    throw err;
  }
}
