#!/usr/bin/env bash
# Installs dependencies (pinned by pnpm-lock.yaml) and builds every package. Needs only Node 20 and npm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# better-sqlite3 compiles from source; point node-gyp at the installed Node headers instead of a download.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
  export npm_config_nodedir=/usr
fi
if [ -n "${CI:-}" ] || [ ! -d node_modules/.pnpm ]; then
  npx --yes pnpm@12.4.2 install --frozen-lockfile
else
  npx --yes pnpm@12.4.2 install --frozen-lockfile --prefer-offline >/dev/null
fi
node_modules/.bin/tsc -b
