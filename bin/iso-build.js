#!/usr/bin/env node
// Thin launcher: the bundled CLI lives in dist/bundle/ (built by `npm install` via the prepare script).
import { main } from '../dist/bundle/cli.js';

main(process.argv).then((code) => { process.exitCode = code; });
