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
# Each process in a process group of its own (job control): the terminal's Ctrl-C then reaches only
# this script, which asks each process to stop exactly once. Had they shared its group, they would
# get the terminal's SIGINT and then this script's SIGTERM: a second signal, which means "exit now,
# do not drain".
set -m
"$api" serve "${api_args[@]}" &
api_pid=$!
"$daemon" run "${daemon_args[@]}" &
daemon_pid=$!
set +m

stopping=''
stop() {
  # Once: npm forwards the terminal's SIGINT to this script as well, so one Ctrl-C can arrive twice.
  [ -z "$stopping" ] || return 0
  stopping=1
  kill -TERM "$api_pid" "$daemon_pid" 2>/dev/null || true
}
trap stop INT TERM HUP

# Waits for one process to end. A trapped signal cuts `wait` short while the process still runs:
# then it waits again, and a second `wait` tells a cut-short status from the real one.
finish() {
  local pid=$1 code again
  while :; do
    code=0
    wait "$pid" 2>/dev/null || code=$?
    if kill -0 "$pid" 2>/dev/null; then continue; fi
    again=0
    wait "$pid" 2>/dev/null || again=$?
    # 127: the first wait had collected the real status.
    if [ "$again" = 127 ]; then return "$code"; fi
    return "$again"
  done
}

# Until a signal comes or one process ends by itself; then both stop, and the first failure counts.
ended='' first=0
wait -n -p ended "$api_pid" "$daemon_pid" || first=$?
stop
status=0
for pid in "$api_pid" "$daemon_pid"; do
  code=$first
  if [ "$pid" != "${ended:-}" ]; then
    code=0
    finish "$pid" || code=$?
  fi
  if [ "$status" = 0 ]; then status=$code; fi
done
exit "$status"
