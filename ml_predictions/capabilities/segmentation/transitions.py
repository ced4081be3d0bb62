"""Segment history reads: which runs exist, and who moved between two runs' segments.

Reads the kept history (CustomerSegmentHistory), which outlives pruned model versions. Two runs are
compared with one query each and a pandas merge (no per-customer query), so 100k customers cost about
a second.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from ml_predictions.errors import InsufficientDataError, InvalidParameterError, NotFoundError
from ml_predictions.models import CustomerSegmentHistory

# A customer who moves from one of these segment types into one of RISK_TYPES is a marketer's to-do.
VALUABLE_TYPES: tuple[str, ...] = ("vip", "frequent")
RISK_TYPES: tuple[str, ...] = ("at_risk", "inactive")
GROUPINGS: tuple[str, ...] = ("segment_type", "cluster_name")
MOVED_COLUMNS: list[str] = ["customer_id", "from_segment", "to_segment", "from_segment_type", "to_segment_type",
                            "from_clv", "to_clv", "from_monetary", "to_monetary"]


@dataclass
class Transitions:
    from_run: dict[str, Any]
    to_run: dict[str, Any]
    by: str
    matrix: list[dict[str, Any]]
    moved: pd.DataFrame  # MOVED_COLUMNS, most valuable (previous CLV) first


def segment_runs() -> list[dict[str, Any]]:
    """Every stored run, newest first: run_id, version, calc_date."""
    rows = (CustomerSegmentHistory.objects.values("run_id", "run_version", "calc_date").distinct()
            .order_by("-run_version", "-calc_date"))
    return [{"run_id": str(r["run_id"]), "version": r["run_version"], "calc_date": r["calc_date"]} for r in rows]


def _pick(runs: list[dict[str, Any]], calc_date: date | None, field: str, default: int) -> dict[str, Any]:
    if calc_date is None:
        if default >= len(runs):
            raise InsufficientDataError(f"No stored segmentation run before the one compared to; give {field}.",
                                        field=field)
        return runs[default]
    for run in runs:  # newest run computed for that date
        if run["calc_date"] == calc_date:
            return run
    known = ", ".join(sorted({r["calc_date"].isoformat() for r in runs}))
    raise NotFoundError(f"No stored segmentation run for {field} {calc_date.isoformat()}; stored runs: {known}.",
                        field=field)


def _run_frame(run: dict[str, Any]) -> pd.DataFrame:
    rows = CustomerSegmentHistory.objects.filter(run_id=run["run_id"]).values_list(
        "customer_id", "cluster_name", "segment_type", "clv", "monetary")
    return pd.DataFrame(list(rows), columns=["customer_id", "cluster_name", "segment_type", "clv", "monetary"])


def _describe(run: dict[str, Any], frame: pd.DataFrame, by: str) -> dict[str, Any]:
    counts = frame[by].value_counts().sort_index()
    return {"model_id": run["run_id"], "version": run["version"], "calc_date": run["calc_date"].isoformat(),
            "n_customers": int(len(frame)), "segments": {str(k): int(v) for k, v in counts.items()}}


def segment_transitions(*, from_calc_date: date | None = None, to_calc_date: date | None = None,
                        by: str = "segment_type") -> Transitions:
    """Transition matrix between two runs (default: the last two) and the customers who slipped into risk.

    Matrix cells count customers per (from segment, to segment); `None` on the from side are customers
    new in the later run, on the to side customers missing from it. "Moved" are customers whose segment
    type went from VALUABLE_TYPES to RISK_TYPES, whatever `by` is.
    """
    if by not in GROUPINGS:
        raise InvalidParameterError(f"by must be one of {', '.join(GROUPINGS)}; got {by!r}.", field="by")
    runs = segment_runs()
    if len(runs) < 2 and not (from_calc_date and to_calc_date):
        raise InsufficientDataError(
            f"Segment transitions need two stored segmentation runs; there {'is' if len(runs) == 1 else 'are'} "
            f"{len(runs)}. Train the segmentation again later (POST /api/ml/train-customer-segmentation/).",
            field="from_calc_date")
    to_run = _pick(runs, to_calc_date, "to_calc_date", 0)
    from_run = _pick(runs, from_calc_date, "from_calc_date", runs.index(to_run) + 1)  # default: the run before
    before, after = _run_frame(from_run), _run_frame(to_run)
    merged = before.merge(after, on="customer_id", how="outer", suffixes=("_from", "_to"))
    cells = merged.groupby([f"{by}_from", f"{by}_to"], dropna=False).size().reset_index(name="customers")
    from_sizes = before[by].value_counts()
    matrix = [{"from": None if pd.isna(f) else str(f), "to": None if pd.isna(t) else str(t), "customers": int(n),
               "share_of_from": None if pd.isna(f) else round(int(n) / int(from_sizes[f]), 4)}
              for f, t, n in cells.itertuples(index=False, name=None)]
    moved = merged[merged["segment_type_from"].isin(VALUABLE_TYPES) & merged["segment_type_to"].isin(RISK_TYPES)]
    moved = moved.sort_values(["clv_from", "customer_id"], ascending=[False, True])
    moved = pd.DataFrame({
        "customer_id": moved["customer_id"], "from_segment": moved[f"{by}_from"], "to_segment": moved[f"{by}_to"],
        "from_segment_type": moved["segment_type_from"], "to_segment_type": moved["segment_type_to"],
        "from_clv": moved["clv_from"], "to_clv": moved["clv_to"],
        "from_monetary": moved["monetary_from"], "to_monetary": moved["monetary_to"],
    })[MOVED_COLUMNS]
    return Transitions(_describe(from_run, before, by), _describe(to_run, after, by), by, matrix, moved)


def moved_records(moved: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows (NaN -> None, numbers rounded as the other segment endpoints do)."""
    out = moved.astype(object).where(moved.notna(), None)
    return [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()}
            for row in out.to_dict(orient="records")]


def moved_rows(moved: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    """CSV rows of MOVED_COLUMNS (missing values as empty cells)."""
    return moved.astype(object).where(moved.notna(), "").itertuples(index=False, name=None)
