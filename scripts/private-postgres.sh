#!/usr/bin/env bash
# Sourced by the test and bench commands: starts a private PostgreSQL for the tests from the machine's server
# binaries (Debian's `postgresql` package), listening on 127.0.0.1 on a free port, with its data in a
# temp folder, and stops and removes it when the test command exits. Exports
# LUNASENTRI_TEST_POSTGRES_URL when it runs; without server binaries it exports nothing and the
# PostgreSQL tests say so and are skipped (under CI=true they fail instead).

pg_bin=""
for candidate in /usr/lib/postgresql/*/bin; do
  [ -x "$candidate/initdb" ] && pg_bin="$candidate"
done
if [ -z "$pg_bin" ] && command -v initdb >/dev/null 2>&1; then pg_bin="$(dirname "$(command -v initdb)")"; fi

if [ -n "$pg_bin" ]; then
  pg_dir=$(mktemp -d -t lunasentri-pg.XXXXXX)
  pg_port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  # initdb refuses to run as root: the server then runs as the `postgres` user.
  as_owner=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$pg_dir"
    as_owner=(runuser -u postgres --)
  fi
  stop_test_postgres() {
    "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  }
  if "${as_owner[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres >"$pg_dir/initdb.log" 2>&1 &&
    "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
      -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null; then
    export LUNASENTRI_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
    export BENCH_POSTGRES_URL="$LUNASENTRI_TEST_POSTGRES_URL"
    trap stop_test_postgres EXIT
  else
    echo "PostgreSQL: could not start a private server from $pg_bin (see $pg_dir); its tests are skipped" >&2
    cat "$pg_dir"/*.log >&2 2>/dev/null || true
    stop_test_postgres
  fi
fi
