#!/usr/bin/env bash
# Installs dependencies (pinned by pnpm-lock.yaml) and builds every package. Needs only Node 20 and npm.
# The long phases say what they are doing (on stderr); a run with nothing to do prints nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# better-sqlite3 compiles from source; point node-gyp at the installed Node headers instead of a download.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
  export npm_config_nodedir=/usr
fi
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
