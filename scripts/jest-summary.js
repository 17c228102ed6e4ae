'use strict';
// A Jest reporter that prints `jest: N passed, N failed` once the run is complete (a suite that could
// not run counts as a failure). With LUNASENTRI_JEST_SUMMARY set, it also writes the line to that
// file, so the test command can tell a run that reported from one where Jest itself crashed.
const fs = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + (results.numRuntimeErrorTestSuites || 0);
    const line = `jest: ${results.numPassedTests} passed, ${failed} failed\n`;
    process.stdout.write(line);
    if (process.env.LUNASENTRI_JEST_SUMMARY) fs.writeFileSync(process.env.LUNASENTRI_JEST_SUMMARY, line);
  }
}

module.exports = SummaryReporter;
