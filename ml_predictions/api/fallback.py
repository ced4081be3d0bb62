"""JSON answers for what never reaches a DRF view: an unknown route under the plugin's prefix, and the
host's own 404/500 handlers for /api/ paths.

The plugin's routes end with a catch-all (`api_not_found`), so any host that includes them gets a JSON
404 in the documented shape under its prefix, DEBUG or not, without configuring anything. Errors
outside that prefix (the host's token views, a middleware that raises) belong to the host's
handler404/handler500; `handler404` and `handler500` here answer JSON for paths under API_PATH_PREFIX
and defer to Django's own pages elsewhere, so a host can name them in its root URLconf.
"""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from ml_predictions.conf import ml_settings
from ml_predictions.exceptions import json_error


def _is_api(request: HttpRequest) -> bool:
    prefix = ml_settings.API_PATH_PREFIX
    return bool(prefix) and request.path_info.startswith(prefix)


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The last route of the plugin: any method on a path it does not know."""
    message = f"No API route {request.path}."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            message += f" The API's routes end with a slash: {request.path}/"
    return json_error(request, 404, "not_found", message)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_error(request, 404, "not_found", f"No API route {request.path}.")
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return json_error(request, 500, "server_error", "")
    return defaults.server_error(request)
