#!/usr/bin/env bash
# npm start: provides the Temporal CLI, then runs the whole stack (src/dev/stack.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -d node_modules ]; then
  echo "node_modules is missing: run 'npm install' first." >&2
  exit 1
fi
if [ -z "${TEMPORAL_ADDRESS:-}" ]; then
  eval "$(SKIP_TEST_SERVER=1 bash scripts/temporal-toolchain.sh)"
fi
exec node --import tsx src/dev/stack.ts
