#!/usr/bin/env bash
# Fuzz the API against a live server with a staff JWT: schemathesis, bounded (25 examples per
# operation, 5 minutes at most), checks not_a_server_error + response_schema_conformance, 0 failures.
# A throw-away file SQLite database with a small generated shop and trained models, so the read
# endpoints answer with real bodies. The training endpoints are left out (each example would train);
# their inputs are covered by the suite. PYTHON: the project venv's interpreter. FUZZ_PORT: the port.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
ST="$(dirname "$PYTHON")/st"
PORT="${FUZZ_PORT:-8253}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ml-fuzz.XXXXXX")"
SERVER_PID=""
cleanup() {
  status=$?
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  [ "$status" -ne 0 ] && [ -f "$WORK/server.log" ] && { echo "--- server log (tail)"; tail -n 60 "$WORK/server.log"; }
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
export DATABASE_URL="sqlite:///$WORK/fuzz.sqlite3" DEBUG=1 TASKS_BACKEND=immediate CONN_MAX_AGE=0 \
  ML_MODEL_DIR="$WORK/models" PYTHONPATH="$ROOT" DJANGO_SETTINGS_MODULE=backend_django.settings
unset REDIS_URL
export DISABLE_THROTTLING=1  # the fuzzer calls far faster than the per-user rate allows
cd "$ROOT"
"$PYTHON" manage.py migrate -v 0
"$PYTHON" manage.py generate_ml_data --customers 300 --products 60 --orders 3000 --years 2 --seed 7 \
  --end-date 2026-06-30 --no-progress >/dev/null
"$PYTHON" manage.py shell -c "
from django.contrib.auth import get_user_model
get_user_model().objects.create_user('fuzz', 'fuzz@example.com', 'fuzz-pw-123456', is_staff=True)
from ml_predictions.training.runner import train_now
for mt, params in [('sales_forecast', {'model_type': 'linear', 'level': 'total'}), ('product_recommendation', {}),
                   ('customer_segmentation', {}), ('inventory', {})]:
    assert train_now(mt, params).status == 'succeeded', mt
"
"$PYTHON" manage.py runserver --noreload "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 60); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.5; done
TOKEN="$(curl -fs -X POST -H 'Content-Type: application/json' \
  -d '{"username": "fuzz", "password": "fuzz-pw-123456"}' "http://127.0.0.1:$PORT/api/auth/token/" \
  | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["access"])')"
curl -fs "http://127.0.0.1:$PORT/api/schema/?format=json" -H "Authorization: Bearer $TOKEN" >"$WORK/schema.json"
timeout 330 "$ST" run "$WORK/schema.json" --url "http://127.0.0.1:$PORT" -H "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,response_schema_conformance -n "${FUZZ_EXAMPLES:-25}" --max-time 240 \
  --phases examples,coverage,fuzzing --seed "${FUZZ_SEED:-4}" --request-timeout 30 --no-color \
  --exclude-path-regex '^/api/(auth/|ml/(train-|retrain/))'
