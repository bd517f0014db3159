#!/usr/bin/env bash
# npm test: the whole suite. Provides the Temporal CLI and test server, then type-checks, lints and
# runs every jest project (unit, workflows, replay, integration) against real PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

eval "$(bash scripts/temporal-toolchain.sh)"
echo "temporal: $("$TEMPORAL_CLI" --version)"
echo "test server: $TEMPORAL_TEST_SERVER"
eval "$(bash scripts/prometheus-toolchain.sh)"

node --import tsx scripts/check-services.ts

echo "== typecheck" && npx tsc --noEmit -p tsconfig.json
echo "== lint" && npx eslint . && npx prettier --check "**/*.{ts,mjs,js,json,yml,yaml}" >/dev/null
echo "== jest" && npx jest --maxWorkers=2 "$@"
