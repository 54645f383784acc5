#!/usr/bin/env node
'use strict';
// In a source checkout, run the TypeScript CLI through tsx (never a stale bundle); in a package without the sources,
// run the esbuild bundle.
const path = require('node:path');
const fs = require('node:fs');
const source = path.join(__dirname, '..', 'server', 'src', 'cli', 'main.ts');
if (fs.existsSync(source)) {
  require('tsx/cjs');
  require(source);
} else {
  require(path.join(__dirname, '..', 'dist', 'cli.js'));
}
