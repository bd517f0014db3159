#!/usr/bin/env bash
# npm start: provides the Temporal CLI, builds dist/, then runs the whole stack (src/dev/stack.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -d node_modules ]; then
  echo "node_modules is missing: run 'npm install' first." >&2
  exit 1
fi
if [ -z "${TEMPORAL_ADDRESS:-}" ]; then
  eval "$(SKIP_TEST_SERVER=1 bash scripts/temporal-toolchain.sh)"
fi
# The stack's processes run the compiled JavaScript, as the image does: tsx would add about 37 MiB
# to each (incremental build: about 5 s after the first).
npm run --silent build
export STACK_COMPILED=1
exec node --import tsx src/dev/stack.ts
