"""The API documentation pages, served from this installation's static files (no CDN).

Swagger UI and ReDoc come from drf-spectacular-sidecar once the host sets
`SPECTACULAR_SETTINGS = {**ML_SPECTACULAR_SETTINGS, ...}` (ml_predictions/spectacular.py); ReDoc's
stock page also links Google Fonts, which this one leaves out.
"""
from __future__ import annotations

from drf_spectacular.views import SpectacularRedocView


class MLRedocView(SpectacularRedocView):
    template_name = "ml_predictions/redoc.html"
