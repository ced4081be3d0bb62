"""ASGI entry point (uvicorn backend_django.asgi:application)."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend_django.settings")
application = get_asgi_application()
