#!/usr/bin/env node
'use strict';
// Runs the bundled CLI when it exists (packaged installs), else the TypeScript source through tsx.
const path = require('node:path');
const fs = require('node:fs');
const bundled = path.join(__dirname, '..', 'dist', 'cli.js');
if (fs.existsSync(bundled)) {
  require(bundled);
} else {
  require('tsx/cjs');
  require(path.join(__dirname, '..', 'server', 'src', 'cli', 'main.ts'));
}
