#!/usr/bin/env bash
# Quick start, first command: install, build, and run the demo (API + daemon on ./data/demo.db).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
TS_NODE_PROJECT=tsconfig.jest.json TS_NODE_TRANSPILE_ONLY=true exec node -r ts-node/register scripts/demo.ts
