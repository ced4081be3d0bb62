"""A read view's JSON answer rendered once and its bytes reused (ml_predictions/answer_cache.py).

The views call `rendered_answer` after DRF ran authentication, permission and throttling (inside the
handler) and after their own validation, so the cache never answers a request the view would refuse.
Only the JSON renderer's bytes are cached (another negotiated format, the browsable API, is rendered as
usual), and only answers that `build` returned: an error raises through and is never stored.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse, HttpResponseBase
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ml_predictions.answer_cache import cached_answer


def rendered_answer(view: APIView, request: Request, namespace: str, identity: dict[str, Any] | None,
                    build: Callable[[], Any], *, timeout: Callable[[], float | None] | None = None) -> HttpResponseBase:
    """The 200 answer of `build()` (JSON-ready data), from the cache while `identity` is unchanged.

    `identity` holds what the answer depends on besides the URL and the negotiated media type, which
    are added here (the URL carries the query string and the host that pagination links show); None
    means "do not cache". `timeout()` is asked after a miss for a shorter life than the default.
    """
    renderer = request.accepted_renderer
    if getattr(renderer, "format", None) != "json" or identity is None:
        return Response(build())
    media_type = request.accepted_media_type

    def render() -> bytes:
        return renderer.render(build(), media_type, view.get_renderer_context())

    full = {**identity, "url": request.build_absolute_uri(), "media_type": media_type}
    body = cached_answer(namespace, full, render, timeout=(lambda _body: timeout()) if timeout else None)
    content_type = f"{renderer.media_type}; charset={renderer.charset}" if renderer.charset else renderer.media_type
    return HttpResponse(body, content_type=content_type)
