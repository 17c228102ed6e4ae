'use strict';
// Preloaded into a binary under test (NODE_OPTIONS=--require): on exit, writes the npm packages the
// process loaded, one per line, to LUNASENTRI_TEST_LOADED_PACKAGES.
const { writeFileSync } = require('node:fs');

process.on('exit', () => {
  const packages = new Set();
  for (const file of Object.keys(require.cache)) {
    const match = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (match) packages.add(match[1]);
  }
  writeFileSync(process.env.LUNASENTRI_TEST_LOADED_PACKAGES, [...packages].sort().join('\n') + '\n');
});
