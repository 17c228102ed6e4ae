#!/usr/bin/env bash
# `npm start [-- OPTIONS]`: the API and the daemon together in the foreground on the embedded default
# (./data/lunasentri.db unless --db or DB_PATH says otherwise), for trying LunaSentri with a real
# agent. OPTIONS are those of `lunasentri-api serve` and `lunasentri-heartbeat run`, each passed to the
# process that reads it (`npm start -- --threshold 10s`); the environment settings of the README work
# too. Ctrl-C stops both gracefully.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
api=node_modules/.bin/lunasentri-api
daemon=node_modules/.bin/lunasentri-heartbeat

# Sorts and checks the options (scripts/start-args.js): a bad one stops here, before anything starts.
mapfile -d '' plan < <(node scripts/start-args.js "$@")
wait "$!"
[ "${#plan[@]}" -gt 0 ] || exit 0 # --help was shown
migrate_args=() api_args=() daemon_args=() db='' port=''
for ((i = 0; i < ${#plan[@]}; i += 2)); do
  value=${plan[i + 1]}
  case ${plan[i]} in
    migrate) migrate_args+=("$value") ;;
    api) api_args+=("$value") ;;
    daemon) daemon_args+=("$value") ;;
    db) db=$value ;;
    port) port=$value ;;
  esac
done

"$api" migrate "${migrate_args[@]}"
cat <<EOT
LunaSentri is starting on $db. In another terminal:
  $api user create --db $db --email you@example.com                      # prints your API token once
  $api machine create --db $db --email you@example.com --name my-server  # prints the agent key once
Point the agent at http://<this host>:$port with that key.
EOT
"$api" serve "${api_args[@]}" &
api_pid=$!
"$daemon" run "${daemon_args[@]}" &
daemon_pid=$!
stop() { kill -TERM "$api_pid" "$daemon_pid" 2>/dev/null || true; }
trap stop INT TERM
status=0
wait -n "$api_pid" "$daemon_pid" || status=$?
stop
wait "$api_pid" 2>/dev/null || true
wait "$daemon_pid" 2>/dev/null || true
exit "$status"
