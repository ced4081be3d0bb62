"""WSGI entry point (gunicorn backend_django.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend_django.settings")
application = get_wsgi_application()
