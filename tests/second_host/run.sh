#!/usr/bin/env bash
# A second shop installs the plugin from its wheel, as a user would (docs/installation.md):
#   wheel + sdist -> fresh venv -> `django-admin startproject` + a `legacy` app (Sale/SaleLine/Article/
#   Client) -> settings alone (no REST_FRAMEWORK) -> migrate -> runserver + db_worker -> smoke.py over HTTP.
# Bounded in time (every step under `timeout`), cleans up after itself (processes, temp dir, build litter).
# PYTHON: an interpreter with `build` (requirements-dev.txt). SECOND_HOST_PORT: the server's port.
# The fresh venv installs under requirements.txt's pins as constraints (same versions as the suite, and
# pip's cache is reused); SECOND_HOST_UNPINNED=1 lets pip pick the newest versions the ranges allow.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/tests/second_host"
PYTHON="${PYTHON:-python3}"
PORT="${SECOND_HOST_PORT:-8159}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ml-second-host.XXXXXX")"
PIDS=()
LITTER=()
for path in "$ROOT/ml_predictions.egg-info" "$ROOT/build"; do [ -e "$path" ] || LITTER+=("$path"); done

cleanup() {
  status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    for log in "$WORK"/*.log; do [ -f "$log" ] && { echo "--- $log (tail)"; tail -n 40 "$log"; }; done
  fi
  rm -rf "$WORK" "${LITTER[@]}"
  exit "$status"
}
trap cleanup EXIT
step() { echo "--- second host: $*"; }

step "building the sdist and the wheel"
timeout 300 "$PYTHON" -m build --outdir "$WORK/dist" "$ROOT" >"$WORK/build.log" 2>&1
WHEEL="$(ls "$WORK"/dist/*.whl)"
echo "$(basename "$WHEEL") $(basename "$(ls "$WORK"/dist/*.tar.gz)")"
# package data a host relies on: migrations, templates, static files, the compiled catalogue
"$PYTHON" - "$WHEEL" <<'PY'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
needed = ["ml_predictions/migrations/0001_initial.py", "ml_predictions/templates/ml_predictions/dashboard.html",
          "ml_predictions/static/ml_predictions/rfm_views.js", "ml_predictions/locale/es/LC_MESSAGES/django.mo"]
missing = [n for n in needed if n not in names]
sys.exit(f"missing from the wheel: {missing}" if missing else 0)
PY

step "installing the wheel into a fresh venv"
python3 -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
CONSTRAINTS=()
if [ "${SECOND_HOST_UNPINNED:-0}" != "1" ]; then
  sed 's/\[[a-z,]*\]//' "$ROOT/requirements.txt" >"$WORK/constraints.txt"
  CONSTRAINTS=(-c "$WORK/constraints.txt")
fi
timeout 900 "$VPY" -m pip install -q "${CONSTRAINTS[@]}" "$WHEEL" >"$WORK/pip.log" 2>&1

step "creating the project"
mkdir "$WORK/project"
"$WORK/venv/bin/django-admin" startproject legacyhost "$WORK/project"
cp -r "$HERE/legacy" "$WORK/project/legacy"
cat "$HERE/settings_ml.py" >>"$WORK/project/legacyhost/settings.py"
cp "$HERE/urls.py" "$WORK/project/legacyhost/urls.py"
cd "$WORK/project"
# the plugin must come from the wheel, not from this repository
"$VPY" -c "import ml_predictions, sys; p = ml_predictions.__file__; print(p); sys.exit('site-packages' not in p)"
timeout 120 "$VPY" manage.py makemigrations legacy -v0
timeout 300 "$VPY" manage.py migrate -v0
timeout 60 "$VPY" manage.py check --fail-level WARNING
timeout 120 "$VPY" manage.py seed_legacy

step "serving on 127.0.0.1:$PORT with a db_worker"
"$VPY" manage.py runserver "127.0.0.1:$PORT" --noreload >"$WORK/server.log" 2>&1 &
PIDS+=($!)
"$VPY" manage.py db_worker --no-reload --interval 1 >"$WORK/worker.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 60); do
  "$VPY" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$PORT/admin/login/', timeout=2)" 2>/dev/null && break
  sleep 1
done

step "smoke test over HTTP"
timeout 600 "$VPY" "$HERE/smoke.py" "http://127.0.0.1:$PORT"
