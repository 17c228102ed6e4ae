'use strict';
// Prints `jest: N passed, N failed` from Jest's --json output. A run that produced no results
// (Jest crashed) counts as one failure, so it never reads as green.
const fs = require('node:fs');

let passed = 0;
let failed = 1;
try {
  const results = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  passed = results.numPassedTests;
  failed = results.numFailedTests + (results.numRuntimeErrorTestSuites || 0);
} catch (error) {
  console.error(`could not read Jest results: ${error.message}`);
}
console.log(`jest: ${passed} passed, ${failed} failed`);
