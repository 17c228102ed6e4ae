#!/usr/bin/env bash
# Installs dependencies (pinned by pnpm-lock.yaml) and builds every package. Needs only Node (20, 22 or
# 24) and npm, plus python3, make and g++ where better-sqlite3 must compile (no prebuilt binary fetched).
# The long phases say what they are doing (on stderr); a run with nothing to do prints nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=node-headers.sh
source scripts/node-headers.sh
if [ ! -d node_modules/.pnpm ]; then
  echo "Installing dependencies; better-sqlite3 compiles from source when no prebuilt binary can be fetched (about 2 minutes)…" >&2
fi
if [ -n "${CI:-}" ] || [ ! -d node_modules/.pnpm ]; then
  npx --yes pnpm@12.4.2 install --frozen-lockfile
else
  npx --yes pnpm@12.4.2 install --frozen-lockfile --prefer-offline >/dev/null
fi
for package in packages/*/; do
  if [ ! -f "$package/dist/.tsbuildinfo" ] || [ -n "$(find "$package/src" -newer "$package/dist/.tsbuildinfo" -print -quit)" ]; then
    echo "Building…" >&2
    break
  fi
done
node_modules/.bin/tsc -b
