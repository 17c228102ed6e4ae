#!/usr/bin/env bash
# `npm start`: the API and the daemon together in the foreground on the embedded default
# (./data/lunasentri.db unless DB_PATH is set), for trying LunaSentri with a real agent.
# Ctrl-C stops both gracefully. All settings come from the environment (see the README).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
api=node_modules/.bin/lunasentri-api
daemon=node_modules/.bin/lunasentri-heartbeat
"$api" migrate
cat <<EOT
LunaSentri is starting on ${DB_PATH:-./data/lunasentri.db}. In another terminal:
  $api user create --email you@example.com                     # prints your API token once
  $api machine create --email you@example.com --name my-server   # prints the agent key once
Point the agent at http://<this host>:${PORT:-8080} with that key.
EOT
"$api" serve &
api_pid=$!
"$daemon" run &
daemon_pid=$!
stop() { kill -TERM "$api_pid" "$daemon_pid" 2>/dev/null || true; }
trap stop INT TERM
status=0
wait -n "$api_pid" "$daemon_pid" || status=$?
stop
wait "$api_pid" 2>/dev/null || true
wait "$daemon_pid" 2>/dev/null || true
exit "$status"
