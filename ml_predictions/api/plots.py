"""PNG charts: matplotlib on the Agg backend (no display), returned as an HttpResponse."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def new_figure(width: float = 9.0, height: float = 5.5) -> tuple[Figure, plt.Axes]:
    """A figure not registered with pyplot's global state, so concurrent requests never share it."""
    fig = Figure(figsize=(width, height), dpi=100)
    return fig, fig.add_subplot(1, 1, 1)


def png_response(fig: Figure) -> HttpResponse:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    response = HttpResponse(buffer.getvalue(), content_type="image/png")
    response["Cache-Control"] = "no-store"
    return response
