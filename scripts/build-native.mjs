#!/usr/bin/env node
// Builds the optional native addon (native/sha256-state.c -> dist/native/sha256-state.node) with the C compiler and
// Node's own headers (no node-gyp, no download). Without it iso-build still works: src/sha256-state.ts falls back to
// Node's crypto, and a rebuild then hashes the whole new ISO instead of the bytes after the insertion point. A failed
// compile is a warning here, never a failed install; ISO_BUILD_REQUIRE_NATIVE=1 (the tests under CI) makes it an error.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(repo, 'native/sha256-state.c');
const out = join(repo, 'dist/native/sha256-state.node');
// Node's headers: next to the running node (official tarballs, Debian's nodejs), else npm's nodedir (/usr).
const include = [join(dirname(process.execPath), '../include/node'), '/usr/include/node', '/usr/local/include/node'].find((d) => existsSync(join(d, 'node_api.h')));
const cc = process.env.CC ?? 'cc';

function warn(why) {
  const msg = `build-native: ${out} not built (${why}); iso-build works without it, but every rebuild hashes the whole new ISO`;
  if (process.env.ISO_BUILD_REQUIRE_NATIVE === '1') {
    console.error(`${msg}\nbuild-native: ISO_BUILD_REQUIRE_NATIVE=1: failing`);
    process.exit(1);
  }
  console.error(`warning: ${msg}`);
}

if (!include) warn("Node's headers (node_api.h) not found next to node or in /usr/include/node");
else {
  mkdirSync(dirname(out), { recursive: true });
  const partial = `${out}.partial`;
  try {
    execFileSync(cc, ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', '-I', include, '-o', partial, source], { stdio: ['ignore', 'inherit', 'inherit'] });
    renameSync(partial, out);
  } catch (err) {
    rmSync(partial, { force: true });
    warn(err.code === 'ENOENT' ? `no C compiler (${cc}); scripts/setup installs gcc` : `${cc} failed`);
  }
}
