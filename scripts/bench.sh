#!/usr/bin/env bash
# Every benchmark, or the ones named: `npm run bench [-- [--quick] sweep-scaling burst latency ingest]`.
# Installs and builds first (the benchmarks run the built binaries), then bench/run.ts prints each
# benchmark's table and a summary; JSON lands in bench/results/ (gitignored).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# The PostgreSQL benchmarks use a private server (BENCH_POSTGRES_URL); without server binaries they are skipped.
# shellcheck source=private-postgres.sh
source scripts/private-postgres.sh
TS_NODE_PROJECT=tsconfig.jest.json node -r ts-node/register/transpile-only bench/run.ts "$@"
