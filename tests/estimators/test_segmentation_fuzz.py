"""Shape fuzz of the segmenter and the CLV pipeline: odd but legal histories fit, or raise a named error.

One customer, only single-line orders, duplicate lines, all orders on one day, a gap of a year,
integer / string / UUID / non-ASCII ids. Either the documented outputs come back, or an
InsufficientDataError / InvalidParameterError says what is missing: never a bare exception.
"""
from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_predictions.errors import InsufficientDataError, InvalidParameterError
from ml_predictions.estimators.segmentation.clv_data import purchase_history
from ml_predictions.estimators.segmentation.clv_selection import predict_lifetime_value, select_clv
from ml_predictions.estimators.segmentation.segmenter import CustomerSegmenter, compute_rfm

ID_KINDS = {
    "int": lambda i: i + 1,
    "str": lambda i: f"cust-{i}",
    "uuid": lambda i: str(uuid.UUID(int=i + 1)),
    "non_ascii": lambda i: f"Jürgen-Ñoño-客户-{i}",
}


@st.composite
def histories(draw: st.DrawFn) -> pd.DataFrame:
    kind = draw(st.sampled_from(sorted(ID_KINDS)))
    n_customers = draw(st.integers(1, 8))
    same_day = draw(st.booleans())
    year_gap = draw(st.booleans())
    single_line = draw(st.booleans())
    rows = []
    order = 0
    for c in range(n_customers):
        for _ in range(draw(st.integers(1, 5))):
            day = 0 if same_day else draw(st.integers(0, 120))
            if year_gap and draw(st.booleans()):
                day += 365
            n_lines = 1 if single_line else draw(st.integers(1, 3))
            line = (f"p{draw(st.integers(0, 4))}", draw(st.integers(1, 3)), draw(st.sampled_from([0.5, 9.99, 120.0])))
            for _ in range(n_lines):  # repeated draws of one line: duplicate lines on purpose
                if draw(st.booleans()):
                    line = (f"p{draw(st.integers(0, 4))}", draw(st.integers(1, 3)), line[2])
                rows.append((str(order), ID_KINDS[kind](c), line[0],
                             pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=day), line[1], line[2]))
            order += 1
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "product_id", "ordered_at", "quantity",
                                       "unit_price"])


FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(lines=histories(), k=st.sampled_from([2, 3, "auto"]))
def test_segmenter_fits_or_names_what_is_missing(lines, k):
    rfm = compute_rfm(lines, window_days=800)
    assert len(rfm) == lines["customer_id"].astype(str).nunique()
    try:
        seg = CustomerSegmenter(k, min_clusters=2, max_clusters=4).fit(rfm)
    except (InsufficientDataError, InvalidParameterError) as exc:
        assert exc.field == "n_clusters" and str(exc)
        return
    assert len(seg.labels_) == len(rfm) and set(np.unique(seg.labels_)) <= set(range(seg.n_clusters_))
    assert len(set(seg.cluster_names_.values())) == seg.n_clusters_
    assert (seg.predict(rfm) == seg.labels_).mean() > 0.9


@FUZZ
@given(lines=histories())
def test_clv_pipeline_fits_or_names_what_is_missing(lines):
    tx = lines.assign(amount=lines["quantity"] * lines["unit_price"])
    history = purchase_history(tx)
    assert history.n_customers == tx["customer_id"].astype(str).nunique()
    selection = select_clv(history, holdout_days=30)
    assert selection.chosen in {"bgnbd_gamma_gamma", *selection.scores}
    out, details = predict_lifetime_value(history, selection.chosen, min_repeat_customers=2)
    assert list(out.columns) == ["p_alive", "expected_purchases", "expected_avg_value", "clv"]
    assert len(out) == history.n_customers and np.isfinite(out.to_numpy()).all()
    assert out["p_alive"].between(0, 1).all() and (out["clv"] >= 0).all()
    assert details["method"] in {*selection.scores, "bgnbd_gamma_gamma", "simple_fallback", "naive_rate_x_spend"}
