"""The forecast-vs-actual chart: what each day's latest forecast said, its band, and what was sold."""
from __future__ import annotations

from matplotlib.figure import Figure

from ml_predictions.capabilities.monitoring.selectors import forecast_vs_actual


def forecast_vs_actual_figure(*, days: int = 90) -> Figure:
    frame = forecast_vs_actual(days=days)
    fig = Figure(figsize=(9.0, 5.0), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    if frame.empty:
        ax.text(0.5, 0.5, "No stored forecast has reached its days yet", ha="center", va="center")
        ax.set_axis_off()
        return fig
    ax.fill_between(frame["date"], frame["lower"], frame["upper"], alpha=0.25, label="forecast band")
    ax.plot(frame["date"], frame["predicted"], label="forecast")
    ax.plot(frame["date"], frame["actual"], color="black", marker=".", linewidth=1, label="actual sales")
    ax.set_title(f"Forecast vs actual, last {days} days (total sales)")
    ax.set_ylabel("revenue per day")
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    return fig
