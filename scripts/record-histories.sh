#!/usr/bin/env bash
# Records replay fixtures of the current workflow shape from a running stack (`npm start`) into a
# NEW folder test/replay/histories/<shape>/ (e.g. v3-<patch-id>): completed, completed after two
# 503s, failed with a non-retryable 400, cancelled at once, cancelled mid-stream with partial output.
# Histories of earlier shapes are never re-recorded: they are what catches a change that breaks
# running workflows (docs/operations.md, "Changing workflow code").
#
#   bash scripts/record-histories.sh <shape>
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shape=${1:?usage: record-histories.sh <shape folder, e.g. v3-my-patch-id>}
out=test/replay/histories/$shape
if [ -e "$out" ]; then
  echo "$out exists: histories are added, never re-recorded. Pick a new shape name." >&2
  exit 1
fi
eval "$(SKIP_TEST_SERVER=1 bash scripts/temporal-toolchain.sh)"
API=${API:-http://127.0.0.1:8080}
MODEL=${MODEL:-http://127.0.0.1:8090}
KEY=${DEV_API_KEY:-dev-demo-key}
# The model service's fault API token: npm start generates it into .data/ unless given.
MODEL_AUTH="Authorization: Bearer ${MODEL_SERVICE_ADMIN_TOKEN:-$(cat .data/model-service-admin-token)}"
mkdir -p "$out"

submit() { # <prompt> [max_tokens]
  curl -sf -X POST "$API/v1/inference" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d "{\"model\":\"ref-small\",\"prompt\":\"$1\",\"max_tokens\":${2:-16}}" | sed -E 's/.*"id":"([^"]+)".*/\1/'
}
wait_done() {
  for _ in $(seq 1 200); do
    curl -sf "$API/v1/inference/$1" -H "Authorization: Bearer $KEY" |
      grep -qE '"status":"(completed|failed|cancelled|rejected)"' && return 0
    sleep 0.1
  done
  echo "request $1 did not finish" >&2
  return 1
}
save() { # <file> <id>
  wait_done "$2"
  sleep 0.5
  "$TEMPORAL_CLI" workflow show -w "$2" --output json >"$out/$1"
  echo "recorded $out/$1 ($2)"
}
faults() { # [fault script]
  curl -sf -X DELETE "$MODEL/_faults" -H "$MODEL_AUTH" >/dev/null
  [ -n "${1:-}" ] && curl -sf -X PUT "$MODEL/_faults" -H "$MODEL_AUTH" -H 'Content-Type: application/json' -d "{\"script\":$1}" >/dev/null
  return 0
}
cancel() { curl -sf -X POST "$API/v1/inference/$1/cancel" -H "Authorization: Bearer $KEY" >/dev/null; }

faults && save completed.json "$(submit 'replay fixture [[stop:4]]')"
faults '[{"kind":"status","status":503,"retryAfterS":1,"count":2}]' &&
  save completed-after-retries.json "$(submit 'retry fixture [[stop:3]]')"
faults '[{"kind":"status","status":400,"count":1}]' && save failed-non-retryable.json "$(submit 'failing fixture')"
faults
id=$(submit 'cancelled at once' 64) && cancel "$id" && save cancelled-at-once.json "$id"
# 1000 tokens at npm start's 2 ms per token stream for about 2 s: cancel mid-stream.
id=$(submit 'cancelled mid-stream' 1000) && sleep 0.6 && cancel "$id" && save cancelled-mid-stream.json "$id"
faults
