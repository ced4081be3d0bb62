"""PNG charts: matplotlib on the Agg backend (no display), returned as an HttpResponse.

matplotlib is imported on the first chart, not with the URLconf: importing it costs about a second,
and every system check and management command imports the URLconf.
"""
from __future__ import annotations

import io
from typing import TYPE_CHECKING

from django.http import HttpResponse

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def new_figure(width: float = 9.0, height: float = 5.5) -> tuple[Figure, Axes]:
    """A figure not registered with pyplot's global state, so concurrent requests never share it."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    return fig, fig.add_subplot(1, 1, 1)


def png_response(fig: Figure) -> HttpResponse:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    response = HttpResponse(buffer.getvalue(), content_type="image/png")
    response["Cache-Control"] = "no-store"
    return response
