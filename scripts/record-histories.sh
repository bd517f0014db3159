#!/usr/bin/env bash
# Records the replay fixtures in test/replay/histories/ from a running stack (`npm start`):
# one completed request, one completed after two 503s, one failed with a non-retryable 400.
# Run it after an intentional, versioned workflow change, and commit the new files.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
eval "$(SKIP_TEST_SERVER=1 bash scripts/temporal-toolchain.sh)"
API=${API:-http://127.0.0.1:8080}
MODEL=${MODEL:-http://127.0.0.1:8090}
KEY=${DEV_API_KEY:-dev-demo-key}
out=test/replay/histories
mkdir -p "$out"

submit() {
  curl -sf -X POST "$API/v1/inference" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d "{\"model\":\"ref-small\",\"prompt\":\"$1\",\"max_tokens\":16}" | sed -E 's/.*"id":"([^"]+)".*/\1/'
}
wait_done() {
  for _ in $(seq 1 100); do
    curl -sf "$API/v1/inference/$1" -H "Authorization: Bearer $KEY" | grep -qE '"status":"(completed|failed)"' && return 0
    sleep 0.1
  done
  echo "request $1 did not finish" >&2
  return 1
}
record() { # <file> <prompt> [fault script]
  curl -sf -X DELETE "$MODEL/_faults" >/dev/null
  [ -n "${3:-}" ] && curl -sf -X PUT "$MODEL/_faults" -H 'Content-Type: application/json' -d "{\"script\":$3}" >/dev/null
  local id
  id=$(submit "$2")
  wait_done "$id"
  sleep 0.5
  "$TEMPORAL_CLI" workflow show -w "$id" --output json >"$out/$1"
  echo "recorded $out/$1 ($id)"
}
record completed.json 'replay fixture [[stop:4]]'
record completed-after-retries.json 'retry fixture [[stop:3]]' '[{"kind":"status","status":503,"retryAfterS":1,"count":2}]'
record failed-non-retryable.json 'failing fixture' '[{"kind":"status","status":400,"count":1}]'
curl -sf -X DELETE "$MODEL/_faults" >/dev/null
