#!/usr/bin/env bash
# The whole test suite: install, typecheck + build (tsc -b), then every Jest test.
# Ends with the line `jest: N passed, N failed`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# shellcheck source=private-postgres.sh
source scripts/private-postgres.sh
# The reporter in jest.config.ts prints the summary line (and no file path); this file only shows that it ran.
LUNASENTRI_JEST_SUMMARY=$(mktemp -t lunasentri-jest.XXXXXX)
export LUNASENTRI_JEST_SUMMARY
set +e
node_modules/.bin/jest "$@"
status=$?
set -e
# Jest crashed before its reporters ran: that must never read as green.
if [ ! -s "$LUNASENTRI_JEST_SUMMARY" ]; then
  echo "jest: 0 passed, 1 failed"
  [ "$status" -ne 0 ] || status=1
fi
rm -f "$LUNASENTRI_JEST_SUMMARY"
exit "$status"
