#!/usr/bin/env node
// Bench helper for bench-readers.mjs: the in-process reader alone in a fresh Node process (no CLI verbs loaded).
//   ls IMAGE    print the whole tree like unsquashfs -lln
//   read IMAGE  read every regular file (the in-process counterpart of sqfs2tar)
import { llnLine } from '../dist/image/listing.js';
import { withSource } from '../dist/image/source.js';
import { SquashFs } from '../dist/image/squashfs.js';

const [mode, image] = process.argv.slice(2);
await withSource(image, async (src) => {
  const fs = await SquashFs.open(src);
  const root = await fs.root();
  const out = mode === 'ls' ? [llnLine('/', root)] : [];
  for await (const { path, inode } of fs.walk(root)) {
    if (mode === 'ls') out.push(llnLine(path, inode));
    else if (inode.type === 'file') for await (const chunk of fs.read(inode)) void chunk;
  }
  process.stdout.write(out.join('\n'));
});
