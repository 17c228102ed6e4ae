'use strict';
// Rewrites the README's configuration tables from the setting declarations (run after `tsc -b`).
// test/docs/readme.test.ts fails when they drift.
const fs = require('node:fs');
const path = require('node:path');
const { settingsTable } = require('../packages/shared/dist');
const { runSettings } = require('../packages/heartbeat-daemon/dist');
const { serveSettings } = require('../packages/api/dist');

const file = path.join(__dirname, '..', 'README.md');
let readme = fs.readFileSync(file, 'utf8');
for (const [heading, spec] of [
  ['### `lunasentri-heartbeat run`', runSettings],
  ['### `lunasentri-api serve`', serveSettings],
]) {
  const start = readme.indexOf('| flag | env |', readme.indexOf(heading));
  const end = readme.indexOf('\n\n', start);
  readme = readme.slice(0, start) + settingsTable(spec) + readme.slice(end);
}
fs.writeFileSync(file, readme);
