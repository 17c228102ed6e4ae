#!/usr/bin/env bash
# The whole test suite: install, typecheck + build (tsc -b), then every Jest test.
# Ends with the line `jest: N passed, N failed`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# shellcheck source=private-postgres.sh
source scripts/private-postgres.sh
results=$(mktemp -t lunasentri-jest.XXXXXX.json)
set +e
node_modules/.bin/jest --json --outputFile="$results" "$@"
status=$?
set -e
node scripts/jest-summary.js "$results"
rm -f "$results"
exit "$status"
