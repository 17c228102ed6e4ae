'use strict';
/*
 * Profiles a service under benchmark load. Node refuses --cpu-prof in NODE_OPTIONS, but accepts
 * --require, so this starts the V8 sampling profiler in-process and writes the profile when the
 * process exits (the inspector session of the own thread answers synchronously, so an 'exit'
 * handler can still collect it). Open the .cpuprofile in Chrome DevTools or any profile viewer.
 *
 *   BENCH_SERVICE_NODE_OPTIONS="--require $PWD/bench/support/cpu-profile-hook.js" \
 *   BENCH_PROFILE_DIR=/tmp/profiles npm run bench -- burst
 */
const inspector = require('node:inspector');
const { mkdirSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const dir = process.env.BENCH_PROFILE_DIR || tmpdir();
const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
// 0.5 ms: fine enough to see per-delivery work, cheap enough not to change the figures much.
session.post('Profiler.setSamplingInterval', { interval: 500 });
session.post('Profiler.start');
process.on('exit', () => {
  session.post('Profiler.stop', (error, result) => {
    if (error || !result) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `lunasentri-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
