#!/usr/bin/env node
// Bench helper for bench-readers.mjs: the in-process reader alone in a fresh Node process (no CLI verbs loaded).
//   ls IMAGE    print the whole tree like unsquashfs -lln
//   read IMAGE  read every regular file (the in-process counterpart of sqfs2tar)
import { once } from 'node:events';
import { llnLine } from '../dist/image/listing.js';
import { withSource } from '../dist/image/source.js';
import { SquashFs } from '../dist/image/squashfs.js';

const [mode, image] = process.argv.slice(2);
await withSource(image, async (src) => {
  const fs = await SquashFs.open(src);
  const root = await fs.root();
  // Written in batches, as `inspect --ls` does: holding every line would make the GC copy them again and again.
  let out = mode === 'ls' ? `${llnLine('/', root)}\n` : '';
  let n = 0;
  for (const { path, inode } of fs.walkSync(root)) {
    if (mode === 'ls') {
      out += `${llnLine(path, inode)}\n`;
      if (++n % 1000 === 0) {
        if (!process.stdout.write(out)) await once(process.stdout, 'drain');
        out = '';
      }
    } else if (inode.type === 'file') for await (const chunk of fs.read(inode)) void chunk;
  }
  process.stdout.write(out);
});
