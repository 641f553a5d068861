#!/usr/bin/env node
// Bundles the CLI (src/ and its npm dependencies) into dist/bundle/ with esbuild, one chunk per lazily loaded part:
// Node then reads a few files instead of several hundred, which is most of a build's start-up time. tsc still emits
// dist/ (type-checked modules, used by the benchmarks); bin/iso-build.js runs the bundle.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(repo, 'dist/bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(repo, 'src/cli.ts')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS dependencies (handlebars) call require(); ESM output has none unless given one.
  banner: { js: "import { createRequire as __isoBuildRequire } from 'node:module'; const require = __isoBuildRequire(import.meta.url);" },
  logLevel: 'warning',
});
