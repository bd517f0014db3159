#!/usr/bin/env bash
# npm test: the whole suite. Provides the Temporal CLI and test server, then type-checks, lints and
# runs every jest project (unit, workflows, replay, integration) against real PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# llama.cpp's llama-server and Gemma 3 270M for test/integration/real-model.test.ts, built and
# fetched in the background (niced) while the rest is prepared: about 6 minutes on 2 cores the
# first time, nothing once cached (${XDG_CACHE_HOME:-~/.cache}/durable-inference/).
local_model_env="$(mktemp)"
local_model_started=$(date +%s)
bash scripts/local-model.sh >"$local_model_env" &
local_model_pid=$!

eval "$(bash scripts/temporal-toolchain.sh)"
echo "temporal: $("$TEMPORAL_CLI" --version)"
echo "test server: $TEMPORAL_TEST_SERVER"
eval "$(bash scripts/prometheus-toolchain.sh)"

node --import tsx scripts/check-services.ts

echo "== typecheck" && npx tsc --noEmit -p tsconfig.json
echo "== lint" && npx eslint . && npx prettier --check "**/*.{ts,mjs,js,json,yml,yaml}" >/dev/null
echo "== local model"
wait "$local_model_pid" || {
  echo "scripts/local-model.sh failed (see above): the real-model tests need llama-server." >&2
  exit 1
}
eval "$(cat "$local_model_env")"
rm -f "$local_model_env"
echo "llama-server: $LLAMA_SERVER_BIN, model: $LOCAL_MODEL_GGUF (ready $(($(date +%s) - local_model_started)) s after the start)"
echo "== jest" && npx jest --maxWorkers=2 "$@"
