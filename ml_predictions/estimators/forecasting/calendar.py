"""The shop's opening calendar, learned from its own history (plus the FORECAST_HOLIDAYS setting).

Why: a shop closed on Saturdays or over Christmas has zero sales on those days because nobody could
buy, not because demand collapsed. Fitted as demand, those zeros drag every level estimate down and
make a multiplicative season impossible; forecast as demand, they put sales on days the shop is
shut. So closed days are detected once, from the whole-shop series, and applied to every level:
models fit on open days only and forecast exactly 0 on closed days.

- A *closed weekday* is one that sold nothing in most of the recent weeks (default: >= 70 % of the
  last 13 weeks). Recent, so a shop that started opening on Sundays is not kept shut.
- A *closed date* is a holiday from the setting, or a day on an open weekday with (almost) no sale in a
  shop that otherwise sells on nearly every open day (fewer than 10 % empty open days): in a busy
  shop an empty Tuesday is a closure (Christmas, a stock-take), in a quiet one it is just a slow day.
  "Almost": under 2 % of the median open day (Bread Basket sold 1 item on New Year's Day against a
  median of ~130; kept as demand, that day was the only closure left in the fit, and it cost the
  weekly models 0.01-0.03 MASE).
  A detected closure is expected again on the same calendar date a year later (Christmas, New Year).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_RECENT_WEEKS = 13
_CLOSED_WEEKDAY_SHARE = 0.7
_BUSY_SHOP_EMPTY_SHARE = 0.1
_NEAR_EMPTY_SHARE = 0.02


def weekdays(days: np.ndarray) -> np.ndarray:
    """Monday = 0 ... Sunday = 6 for datetime64[D] values (1970-01-01 was a Thursday)."""
    return (days.astype("datetime64[D]").astype(np.int64) + 3) % 7


def day_range(first_day: np.datetime64, n: int) -> np.ndarray:
    return np.datetime64(first_day, "D") + np.arange(n).astype("timedelta64[D]")


@dataclass(frozen=True)
class OpenCalendar:
    """Which days the shop trades. `closed_dates` holds past closures and the ones expected ahead."""

    closed_weekdays: tuple[int, ...] = ()
    closed_dates: frozenset = field(default_factory=frozenset)  # of datetime64[D]

    def is_open(self, days: np.ndarray) -> np.ndarray:
        days = np.asarray(days).astype("datetime64[D]")
        open_ = ~np.isin(weekdays(days), np.array(self.closed_weekdays, dtype=np.int64))
        if self.closed_dates:
            open_ &= ~np.isin(days, np.array(sorted(self.closed_dates), dtype="datetime64[D]"))
        return open_

    def weekday_open(self, days: np.ndarray) -> np.ndarray:
        """True on weekdays the shop opens (holidays included): the steps of the seasonal models."""
        return ~np.isin(weekdays(np.asarray(days)), np.array(self.closed_weekdays, dtype=np.int64))

    @property
    def period(self) -> int:
        """Season length of the open-days series: the number of open weekdays."""
        return 7 - len(self.closed_weekdays)

    def as_dict(self, past_end: np.datetime64 | None = None) -> dict:
        names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        dates = sorted(self.closed_dates)
        return {
            "closed_weekdays": [names[d] for d in self.closed_weekdays],
            "closed_dates_in_history": sum(1 for d in dates if past_end is None or d <= past_end),
            "closed_dates_ahead": [str(d) for d in dates if past_end is not None and d > past_end][:20],
        }


def detect_calendar(total: np.ndarray, first_day: np.datetime64, holidays: tuple = ()) -> OpenCalendar:
    """The opening calendar of a shop from its whole-shop daily series (one value per day)."""
    total = np.asarray(total, dtype=float)
    days = day_range(first_day, len(total))
    dow = weekdays(days)
    recent = slice(max(0, len(total) - 7 * _RECENT_WEEKS), None)
    closed = []
    for d in range(7):
        on_day = total[recent][dow[recent] == d]
        if on_day.size >= 4 and (on_day <= 0).mean() >= _CLOSED_WEEKDAY_SHARE:
            closed.append(d)
    if len(closed) == 7:  # a shop that never sells has no calendar to learn
        closed = []
    dates = {np.datetime64(str(h)[:10], "D") for h in holidays}
    weekday_open = ~np.isin(dow, np.array(closed, dtype=np.int64))
    empty = weekday_open & (total <= 0)
    if weekday_open.sum() and empty.sum() / weekday_open.sum() < _BUSY_SHOP_EMPTY_SHARE:
        typical = np.median(total[weekday_open & (total > 0)]) if (weekday_open & (total > 0)).any() else 0.0
        near_empty = weekday_open & (total <= _NEAR_EMPTY_SHARE * typical)
        for day in days[near_empty]:
            dates.add(day)
            dates.add(_next_year(day))
    return OpenCalendar(tuple(closed), frozenset(dates))


def _next_year(day: np.datetime64) -> np.datetime64:
    y, md = str(day)[:4], str(day)[4:]
    if md == "-02-29":
        md = "-02-28"
    return np.datetime64(f"{int(y) + 1}{md}", "D")
