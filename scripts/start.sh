#!/usr/bin/env bash
# npm start: provides the Temporal CLI, builds dist/, then runs the whole stack (dev/stack/stack.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -d node_modules ]; then
  echo "node_modules is missing: run 'npm install' first." >&2
  exit 1
fi
if [ -z "${TEMPORAL_ADDRESS:-}" ]; then
  eval "$(SKIP_TEST_SERVER=1 bash scripts/temporal-toolchain.sh)"
fi
# LOCAL_MODEL=gemma-3-270m: a real model on CPU beside the reference one. llama-server and the weights
# are built/fetched on the first start (about 6 minutes on 2 cores) and cached; later starts reuse them.
if [ -n "${LOCAL_MODEL:-}" ]; then
  case "$LOCAL_MODEL" in
    gemma-3-270m) ;;
    *)
      echo "LOCAL_MODEL='$LOCAL_MODEL' is not a local model; the one available is gemma-3-270m." >&2
      exit 1
      ;;
  esac
  eval "$(bash scripts/local-model.sh)"
fi
# The stack's processes run the compiled JavaScript, as the image does: tsx would add about 37 MiB
# to each (incremental build: about 5 s after the first). The product compiles into dist/ (the
# image's), the reference model service into dist-dev/ (dev/, which no image of the product holds).
npm run --silent build
npm run --silent build:dev
export STACK_COMPILED=1
exec node --import tsx dev/stack/stack.ts
