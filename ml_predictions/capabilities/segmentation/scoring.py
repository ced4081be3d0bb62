"""Answers computed from a fitted segmenter: predict, the stateless apply, standardized rows, plot points.

Services (they record the Prediction rows of predict/apply) over the pure estimators; the API views
validate input, call one of these and render the dict they return.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ml_predictions.capabilities.segmentation.selectors import (
    CUSTOMER_FIELDS,
    marketing_actions,
    stored_customers,
)
from ml_predictions.capabilities.segmentation.services import (
    MAX_RECORDED_RESULTS,
    frame_for_apply,
    record_batch_prediction,
)
from ml_predictions.capabilities.segmentation.trainer import build_segmenter
from ml_predictions.errors import InvalidParameterError, NotFoundError
from ml_predictions.estimators.segmentation.segmenter import (
    CustomerSegmenter,
    confidence_from_distances,
    rfm_from_transactions,
)
from ml_predictions.models import MLModel


def _payload(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in CUSTOMER_FIELDS if k in row}


def predict_stored(model: MLModel, customer_ids: list[str], *, user: Any) -> dict[str, Any]:
    """The run's stored rows for these ids (the spec's predict by customer id), recorded as one Prediction."""
    rows = stored_customers(model, customer_ids)
    unknown = [i for i in dict.fromkeys(customer_ids) if i not in rows]
    if not rows:
        raise NotFoundError(f"None of the customer ids are in the active segmentation: {unknown[:10]}.",
                            field="customer_ids")
    results = [{**_payload(rows[i]), "confidence_score": rows[i]["confidence"],
                "recommendations": marketing_actions(rows[i]["segment_type"])}
               for i in dict.fromkeys(customer_ids) if i in rows]
    recorded = pd.DataFrame(results, columns=["customer_id", "cluster", "segment_type", "confidence_score", "clv",
                                              "p_alive"])
    prediction = record_batch_prediction(
        model=model, endpoint="predict", results=recorded, user=user,
        inputs={"mode": "customer_ids", "n": len(customer_ids), "unknown_customer_ids": unknown[:MAX_RECORDED_RESULTS]})
    return {"model_id": str(model.pk), "results": results, "unknown_customer_ids": unknown,
            "prediction_id": str(prediction.pk)}


def predict_raw(model: MLModel, seg: CustomerSegmenter, customers: list[dict[str, Any]], *, user: Any
                ) -> dict[str, Any]:
    """Cluster, name, type and confidence of raw RFM rows from the run's model, recorded as one Prediction."""
    frame = pd.DataFrame(customers)
    missing = [f for f in seg.features if f not in frame or frame[f].isna().any()]
    if missing:
        raise InvalidParameterError(f"the active model also needs {', '.join(missing)} for every customer.",
                                    field=f"customers.{missing[0]}")
    distances = seg.transform(frame)
    labels = np.argmin(distances, axis=1)
    conf = confidence_from_distances(distances)
    results = []
    for i, rec in enumerate(customers):  # one dict per posted row (at most 10,000): the answer's shape
        label = int(labels[i])
        kind = seg.segment_types_[label]
        results.append({**rec, "cluster": label, "cluster_name": seg.cluster_names_[label], "segment_type": kind,
                        "confidence_score": round(float(conf[i]), 4), "recommendations": marketing_actions(kind)})
    recorded = pd.DataFrame({
        "customer_id": frame["customer_id"] if "customer_id" in frame else None,
        "cluster": labels.astype(int),
        "segment_type": [seg.segment_types_[int(label)] for label in labels],
        "confidence_score": np.round(conf.astype(float), 4),
    })
    sent = frame.iloc[:MAX_RECORDED_RESULTS]
    prediction = record_batch_prediction(
        model=model, endpoint="predict", results=recorded, user=user,
        inputs={"mode": "rfm", "n": len(frame), "columns": list(sent.columns), "rows": sent.to_numpy().tolist()})
    return {"model_id": str(model.pk), "results": results, "unknown_customer_ids": [],
            "prediction_id": str(prediction.pk)}


def _apply_rfm(v: dict[str, Any]) -> pd.DataFrame:
    if v.get("sales"):
        sales = pd.DataFrame(v["sales"])
        sales["customer_id"] = sales["customer_id"].astype(str)
        return rfm_from_transactions(sales, calc_date=v.get("calc_date"), window_days=v["window_days"])
    raw = pd.DataFrame(v["rfm"])
    if raw["customer_id"].duplicated().any():
        raise InvalidParameterError("rfm rows must have distinct customer_id values.", field="rfm")
    return raw.set_index("customer_id")


def _apply_assignments(v: dict[str, Any], per_customer: pd.DataFrame) -> list[dict[str, Any]]:
    if v["output_mode"] != "per_transaction":
        return per_customer.to_dict(orient="records")
    sales = pd.DataFrame(v["sales"])
    sales["customer_id"] = sales["customer_id"].astype(str)
    sales["date"] = sales["date"].map(lambda d: d.isoformat())
    out = sales.merge(per_customer[["customer_id", "cluster", "cluster_name", "segment_type"]], on="customer_id",
                      how="left")
    out["cluster"] = out["cluster"].astype("Int64")
    return out.astype(object).where(out.notna(), None).to_dict(orient="records")


def apply_segmentation(v: dict[str, Any], *, user: Any) -> dict[str, Any]:
    """The spec's stateless apply: RFM of the posted rows, automatic k, assignments; one Prediction row."""
    rfm = _apply_rfm(v)
    seg = build_segmenter({"n_clusters": v["n_clusters"], "selection_metric": v["selection_metric"],
                           "min_clusters": v["min_clusters"], "max_clusters": v["max_clusters"]})
    seg.fit(rfm)
    per_customer = frame_for_apply(seg, rfm)
    summary = (per_customer.groupby(["cluster", "cluster_name", "segment_type"])
               .agg(size=("customer_id", "size"), mean_recency_days=("recency_days", "mean"),
                    mean_frequency=("frequency", "mean"), mean_monetary=("monetary", "mean"))
               .reset_index().round(3).rename(columns={"cluster_name": "name"}))
    ks = [row["k"] for row in seg.k_table_]
    explanation = (
        f"RFM was {'computed from the transactions' if v.get('sales') else 'taken as given'} for "
        f"{len(rfm)} customers, log-transformed and standardized; K-means was run for k in "
        f"{min(ks)}..{max(ks)} and k={seg.n_clusters_} was chosen by {v['selection_metric']} "
        f"({'higher' if v['selection_metric'] != 'davies_bouldin' else 'lower'} is better). "
        "Clusters are named from their centroids' recency, frequency and monetary profile.")
    k_selection = [{k: (round(x, 4) if isinstance(x, float) else x) for k, x in r.items()} for r in seg.k_table_]
    cluster_summary = summary.to_dict(orient="records")
    calc = v.get("calc_date")
    prediction = record_batch_prediction(
        model=None, endpoint="apply", user=user, results=per_customer[["customer_id", "cluster", "segment_type"]],
        inputs={"source": "sales" if v.get("sales") else "rfm", "rows": len(v.get("sales") or v.get("rfm")),
                "customers": len(rfm), "selection_metric": v["selection_metric"], "n_clusters": v["n_clusters"],
                "calc_date": calc.isoformat() if isinstance(calc, date) else None,
                "window_days": v["window_days"], "output_mode": v["output_mode"]},
        extra_output={"best_k": int(seg.n_clusters_), "k_selection": k_selection, "cluster_summary": cluster_summary})
    return {"best_k": int(seg.n_clusters_), "selection_metric": v["selection_metric"],
            "output_mode": v["output_mode"], "k_selection": k_selection,
            "assignments": _apply_assignments(v, per_customer), "cluster_summary": cluster_summary,
            "explanation": explanation, "prediction_id": str(prediction.pk)}


def standardized_page(seg: CustomerSegmenter, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A page of stored rows as the clustering input: log1p + z-scores per feature, and the cluster."""
    if not page:
        return []
    frame = pd.DataFrame(page)
    z = seg.transform_scaled(frame)
    names = [("recency" if f == "recency_days" else f) + "_z" for f in seg.features]
    zf = pd.DataFrame(np.round(z, 4), columns=names)
    zf.insert(0, "customer_id", frame["customer_id"])
    zf["cluster"] = frame["cluster"]
    return zf.to_dict(orient="records")


def scaler_summary(seg: CustomerSegmenter) -> dict[str, Any]:
    return {"features": list(seg.features), "transform": "log1p",
            "mean": [round(float(x), 6) for x in seg.scaler_.mean_],
            "scale": [round(float(x), 6) for x in seg.scaler_.scale_]}


AXES = {"frequency_monetary": ("frequency", "monetary"), "recency_frequency": ("recency_days", "frequency"),
        "recency_monetary": ("recency_days", "monetary")}
AXIS_LABELS = {"recency_days": "Recency (days since last order)", "frequency": "Frequency (orders)",
               "monetary": "Monetary (total spent)"}


def plot_points(seg: CustomerSegmenter, rows: list[dict[str, Any]], kind: str, limit: int) -> dict[str, Any]:
    """Up to `limit` sampled customers as x/y per segment name, axis labels and log-scale hints."""
    frame = pd.DataFrame(rows)
    if frame.empty:
        raise NotFoundError("This segmentation run has no stored customers to plot.")
    if len(frame) > limit:
        frame = frame.sample(n=limit, random_state=0)
    scales = {"x": "linear", "y": "linear"}
    if kind == "pca":
        from sklearn.decomposition import PCA

        z = seg.transform_scaled(frame)
        pca = PCA(n_components=2, random_state=0).fit(z)
        xy = pca.transform(z)
        frame["x"], frame["y"] = xy[:, 0], xy[:, 1]
        var = pca.explained_variance_ratio_
        labels = (f"PC1 ({var[0]:.0%} of variance)", f"PC2 ({var[1]:.0%} of variance)")
    else:
        a, b = AXES[kind]
        frame["x"], frame["y"] = frame[a], frame[b]
        labels = (AXIS_LABELS[a], AXIS_LABELS[b])
        if b in ("monetary", "frequency"):
            scales["y"] = "symlog"
        if a == "frequency":
            scales["x"] = "symlog"
    groups = [(str(name), g["x"].to_numpy(), g["y"].to_numpy()) for name, g in frame.groupby("cluster_name", sort=True)]
    return {"groups": groups, "xlabel": labels[0], "ylabel": labels[1], "scales": scales}
