#!/usr/bin/env bash
# Container check: build the image with podman on a locally made Debian base (the build itself has no
# network: wheels come from a wheelhouse prepared here), run the web and worker containers on the host
# network against this machine's PostgreSQL, and smoke-test them over HTTP. SKIP_CONTAINER=1 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${SKIP_CONTAINER:-0}" = "1" ] && { echo "container check skipped (SKIP_CONTAINER=1)"; exit 0; }
PY="${VENV:-.venv}/bin/python"; [ -x "$PY" ] || PY=python3
CACHE=/var/cache/mlp-container
PORT="${CONTAINER_PORT:-8190}"
TAG="localhost/ml-predictions:ci"
BASE="localhost/mlp-base:bookworm"
mkdir -p "$CACHE"

if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc debootstrap
fi
# crun fails on this machine's rlimits and cgroups; runc works once the default ulimits are emptied.
export CONTAINERS_CONF="$CACHE/containers.conf"
printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' > "$CONTAINERS_CONF"
podman_() { podman --runtime runc --cgroup-manager cgroupfs "$@"; }

if ! podman_ image exists "$BASE"; then
  if [ ! -s "$CACHE/base.tar" ]; then
    echo "--- making the base image (debootstrap bookworm + python3.11)"
    rm -rf "$CACHE/rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$CACHE/rootfs" \
      http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log"; exit 1; }
    tar -C "$CACHE/rootfs" -cf "$CACHE/base.tar" .
    rm -rf "$CACHE/rootfs"
  fi
  podman_ import "$CACHE/base.tar" "$BASE" >/dev/null
fi

echo "--- wheelhouse and build context"
CTX=$(mktemp -d)
DATA=$(mktemp -d)
cleanup() {
  podman_ rm -f mlp-ci-web mlp-ci-worker >/dev/null 2>&1 || true
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS mlp_container_ci" >/dev/null 2>&1 || true
  rm -rf "$CTX" "$DATA"
}
trap cleanup EXIT
git ls-files -z | xargs -0 cp --parents -t "$CTX"
mkdir -p "$CACHE/wheelhouse"
sed '/^-e /d;/^\.$/d' requirements.txt > "$CTX/requirements.txt"
# async-timeout: redis needs it on Python < 3.11.3, which Debian bookworm's 3.11.2 is (the host may be newer).
"$PY" -m pip download -q --disable-pip-version-check -d "$CACHE/wheelhouse" -r "$CTX/requirements.txt" gunicorn==27.0.1 setuptools wheel "async-timeout>=4.0.3" 2>&1 | grep -v "^WARNING: Location" || true
cp -r "$CACHE/wheelhouse" "$CTX/wheelhouse"

echo "--- podman build"
podman_ build -q --format docker --network none --build-arg BASE_IMAGE="$BASE" -t "$TAG" "$CTX" >/dev/null

echo "--- web and worker containers against the machine's PostgreSQL"
psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS mlp_container_ci" -c "CREATE DATABASE mlp_container_ci"
chown 10001 "$DATA"
ENVS=(-e SECRET_KEY="container-ci-$(date +%s)-not-a-real-secret-0123456789abcdef" -e DEBUG=false
      -e ALLOWED_HOSTS=127.0.0.1,localhost -e DATABASE_URL=postgres://postgres@127.0.0.1:5432/mlp_container_ci
      -e REDIS_URL=redis://127.0.0.1:6379/14 -e TASKS_BACKEND=database -e PORT="$PORT")
RUN=(podman_ run --network=host -v "$DATA:/data" "${ENVS[@]}")
"${RUN[@]}" --rm "$TAG" python manage.py migrate --noinput -v 0
"${RUN[@]}" --rm "$TAG" python manage.py generate_ml_data --customers 150 --products 30 --orders 1500 --years 1 \
  --no-admin --no-progress >/dev/null
"${RUN[@]}" --rm -e DJANGO_SUPERUSER_USERNAME=ci-admin -e DJANGO_SUPERUSER_PASSWORD=ci-pass-9f3k2 \
  -e DJANGO_SUPERUSER_EMAIL=ci@example.com "$TAG" python manage.py createsuperuser --noinput >/dev/null
"${RUN[@]}" -d --name mlp-ci-web "$TAG" >/dev/null
"${RUN[@]}" -d --name mlp-ci-worker "$TAG" python manage.py db_worker --no-reload >/dev/null
python3 .ci/container_smoke.py "http://127.0.0.1:$PORT" ci-admin ci-pass-9f3k2 || {
  echo "--- web log"; podman_ logs --tail 40 mlp-ci-web; echo "--- worker log"; podman_ logs --tail 40 mlp-ci-worker; exit 1; }
