"""Writes of the segmentation capability: per-customer rows of a run, its history, prediction records.

Bulk writes only (COPY on PostgreSQL, one executemany elsewhere): a run of 100k customers is two
statements, never a row at a time.
"""
from __future__ import annotations

import io
from datetime import date
from typing import Any

import pandas as pd
from django.db import connection

from ml_predictions.capabilities.predictions import record_prediction, reset_prediction_sampling
from ml_predictions.estimators.segmentation.segmenter import CustomerSegmenter
from ml_predictions.models import (
    CustomerSegmentAssignment,
    CustomerSegmentHistory,
    MLModel,
    ModelType,
    Prediction,
)

MODEL_TYPE = ModelType.CUSTOMER_SEGMENTATION

def _bulk_insert(table: str, cols: list[str], out: pd.DataFrame) -> None:
    out = out[cols].astype(object)
    out = out.where(out.notna(), None)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            buffer = io.StringIO()
            out.to_csv(buffer, index=False, header=False, na_rep="\\N", sep="\t")
            buffer.seek(0)
            with cursor.cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                while chunk := buffer.read(1 << 20):
                    copy.write(chunk)
        else:
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
            cursor.executemany(sql, list(out.itertuples(index=False, name=None)))


def write_assignments(model: MLModel, frame: pd.DataFrame, calc_date: date) -> int:
    """Bulk-insert one row per customer into the run's table and into the kept history.

    COPY on PostgreSQL, one executemany elsewhere.
    """
    cols = ["model_id", "customer_id", "calc_date", "cluster", "segment_type", "cluster_name", "rfm_segment",
            "rfm_name", "recency_days", "frequency", "monetary", "avg_order_value", "unique_products",
            "tenure_days", "purchases_per_month", "confidence", "p_alive", "expected_purchases", "clv"]
    model_id = model.pk.hex if connection.vendor != "postgresql" else str(model.pk)
    out = pd.DataFrame({
        "model_id": model_id,
        "customer_id": frame.index.astype(str),
        "calc_date": calc_date.isoformat(),
        **{c: frame[c].to_numpy() for c in cols[3:]},
    })
    for c in ("cluster", "frequency", "unique_products"):
        out[c] = out[c].astype(int)
    _bulk_insert(CustomerSegmentAssignment._meta.db_table, cols, out)
    history = out[["customer_id", "calc_date", "cluster", "cluster_name", "segment_type", "monetary", "clv"]].assign(
        run_id=model_id, run_version=int(model.version))
    _bulk_insert(CustomerSegmentHistory._meta.db_table,
                 ["run_id", "run_version", "calc_date", "customer_id", "cluster", "cluster_name", "segment_type",
                  "monetary", "clv"], history)
    return len(out)


def frame_for_apply(seg: CustomerSegmenter, rfm: pd.DataFrame) -> pd.DataFrame:
    """Per-customer result of a stateless fit (POST /segments/apply/)."""
    labels = seg.labels_
    return pd.DataFrame({
        "customer_id": rfm.index.astype(str),
        "cluster": labels.astype(int),
        "cluster_name": seg.cluster_name(labels),
        "segment_type": seg.segment_type(labels),
        "recency_days": rfm["recency_days"].to_numpy(),
        "frequency": rfm["frequency"].to_numpy(),
        "monetary": rfm["monetary"].to_numpy(),
    })


# Per-customer results kept in one Prediction row; a bigger batch keeps its summary and the first rows,
# so the history table (and GET /api/ml/predictions/, which returns `output`) stays small.
MAX_RECORDED_RESULTS = 10_000


def reset_lookup_counter() -> None:
    """Tests and workers starting fresh: the next customer lookup is the first of a sampling window."""
    reset_prediction_sampling(MODEL_TYPE)


def record_customer_lookup(model: MLModel, body: dict[str, Any], *, calc_date: date | None, user: Any) -> None:
    """One in SEGMENTATION_LOG_EVERY `GET /customer-segment/{id}/` answers becomes a Prediction row.

    Sampled like recommendations: it is the per-page-view lookup (a CRM's customer page), so recording
    every call would make a read endpoint write one row per view.
    """
    keys = ("cluster", "cluster_name", "segment_type", "confidence_score", "lifetime_value_prediction",
            "probability_alive", "expected_purchases_30d", "rfm_segment", "calc_date")
    record_prediction(
        model=model, kind=MODEL_TYPE, target=str(body["customer_id"]),
        inputs={"endpoint": "customer", "calc_date": calc_date.isoformat() if calc_date else None},
        output={k: body.get(k) for k in keys}, user=user, sampled=True,
    )


def record_batch_prediction(
    *,
    model: MLModel | None,
    endpoint: str,
    inputs: dict[str, Any],
    results: pd.DataFrame,
    extra_output: dict[str, Any] | None = None,
    user: Any = None,
) -> Prediction:
    """Record a predict/apply request as ONE Prediction row (every call: they are batch, not per view).

    `results` has one row per customer (customer_id, cluster, segment_type, …); it is stored as column
    names plus value lists (a third of the size of a list of dicts), capped at MAX_RECORDED_RESULTS rows,
    with the count per segment type over all rows.
    """
    n = len(results)
    if n == 1 and results["customer_id"].iloc[0] is not None:
        target = str(results["customer_id"].iloc[0])
    else:
        target = f"{n} customer" + ("" if n == 1 else "s")
    values = results.iloc[:MAX_RECORDED_RESULTS].to_numpy().tolist()
    output = {
        **(extra_output or {}),
        "segment_counts": {str(k): int(v) for k, v in results["segment_type"].value_counts().sort_index().items()},
        "columns": list(results.columns),
        "results": values,
        "results_total": n,
        "results_truncated": n > MAX_RECORDED_RESULTS,
    }
    return record_prediction(
        model=model, kind=MODEL_TYPE, target=target, inputs={"endpoint": endpoint, **inputs}, output=output, user=user,
    )
