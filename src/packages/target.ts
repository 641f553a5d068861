/**
 * What apt needs of the target to resolve a closure, read straight from the base ISO's rootfs layers (no extraction,
 * no root): its dpkg status and architectures, /etc/apt (sources, keyrings, preferences) and /usr/share/keyrings.
 * `iso-build packages fetch` uses it when no unpacked rootfs is given.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { IsoImage } from '../image/iso9660.js';
import { LayerStack, detectIsoLayout, openLayer } from '../image/rootfs.js';
import { withSource } from '../image/source.js';

const WANTED = ['/var/lib/dpkg/status', '/var/lib/dpkg/arch', '/etc/apt', '/usr/share/keyrings'];

/** Writes the apt-relevant files of the ISO's installed system below `dest`; returns how many. */
export async function extractTargetAptState(iso: string, dest: string): Promise<number> {
  return withSource(iso, async (source) => {
    const image = await IsoImage.open(source);
    const layout = await detectIsoLayout(image);
    const stack = new LayerStack(await Promise.all(layout.stack.map((p) => openLayer(image, p))));
    let count = 0;
    const copy = async (path: string): Promise<void> => {
      const found = await stack.lookup(path, { follow: true });
      if (!found) return;
      const target = join(dest, path);
      if (found.inode.type === 'dir') {
        mkdirSync(target, { recursive: true });
      } else if (found.inode.type === 'file') {
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, await found.fs.readAll(found.inode, 256 << 20));
        count++;
      }
    };
    for (const top of WANTED) {
      const found = await stack.lookup(top, { follow: true });
      if (!found) continue;
      if (found.inode.type !== 'dir') {
        await copy(top);
        continue;
      }
      for await (const entry of stack.walk(top)) await copy(entry.path);
    }
    return count;
  });
}
