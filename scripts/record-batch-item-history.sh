#!/usr/bin/env bash
# Adds a batch item's history to a NEW or existing shape folder test/replay/histories/<shape>/ from
# a running stack (`npm start`): the other shape of the inference workflow, whose first step admits
# the request itself (scripts/record-histories.sh records the API-admitted ones). An existing file
# is never overwritten: histories are added, never re-recorded (docs/operations.md).
#
#   bash scripts/record-batch-item-history.sh <shape>
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
shape=${1:?usage: record-batch-item-history.sh <shape folder>}
out=test/replay/histories/$shape/batch-item-completed.json
if [ -e "$out" ]; then
  echo "$out exists: histories are added, never re-recorded." >&2
  exit 1
fi
eval "$(SKIP_TEST_SERVER=1 bash scripts/temporal-toolchain.sh)"
API=${API:-http://127.0.0.1:8080}
KEY=${DEV_API_KEY:-dev-demo-key}
mkdir -p "$(dirname "$out")"
b=$(printf '{"custom_id":"fixture","body":{"model":"ref-small","prompt":"batch fixture [[stop:3]]","max_tokens":4}}\n' |
  curl -sf -X POST "$API/v1/batches" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/jsonl' \
    --data-binary @- | sed -E 's/.*"id":"([^"]+)".*/\1/')
for _ in $(seq 1 200); do
  curl -sf "$API/v1/batches/$b" -H "Authorization: Bearer $KEY" | grep -qE '"status":"(completed|cancelled|failed)"' && break
  sleep 0.1
done
id=$(curl -sf "$API/v1/batches/$b/results" -H "Authorization: Bearer $KEY" | sed -E 's/.*"id":"([^"]+)".*/\1/')
sleep 0.5
"$TEMPORAL_CLI" workflow show -w "$id" --output json >"$out"
echo "recorded $out ($id)"
