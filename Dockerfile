# The demo host with the plugin, served by gunicorn; the same image runs the background worker.
#   docker build -t ml-predictions .            (needs a wheelhouse/ folder: see docs/container.md)
#   docker compose up                            (web, worker, PostgreSQL, Redis)
# Builds install from ./wheelhouse only, so a build needs no network: `pip download` fills it first.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=backend_django.settings \
    ML_MODEL_DIR=/data/ml_models \
    LOG_DIR=/data/logs \
    PORT=8000 \
    WEB_CONCURRENCY=2 \
    MPLCONFIGDIR=/tmp/matplotlib \
    PATH=/opt/venv/bin:$PATH

WORKDIR /app
COPY wheelhouse/ /tmp/wheelhouse/
COPY requirements.txt requirements-deploy.txt /app/
RUN python3 -m venv /opt/venv \
    && sed -i '/^-e /d;/^\.$/d' requirements.txt \
    && pip install --no-index --find-links /tmp/wheelhouse -r requirements-deploy.txt \
    && rm -rf /tmp/wheelhouse

COPY manage.py /app/
COPY backend_django/ /app/backend_django/
COPY ml_predictions/ /app/ml_predictions/
RUN SECRET_KEY=collectstatic-only DEBUG=true python manage.py collectstatic --noinput -v 0 \
    && useradd --system --uid 10001 --home-dir /app app \
    && mkdir -p /data/ml_models /data/logs \
    && chown -R app /data

USER app
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"
# The worker runs the same image with:  python manage.py db_worker --no-reload
CMD ["sh", "-c", "exec gunicorn backend_django.wsgi:application --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY} --threads 2 --access-logfile -"]
