"""Customer segmentation glue: read the data source, run the pure services, store per-customer rows.

The trainer (`train`) is what the training runner calls for `customer_segmentation`. Read-side helpers
(`resolve_run`, `marketing_actions`, …) serve the API so views stay thin. The marketing texts live
here, not in the pure service, because they are translatable (gettext_lazy): the English source
strings are translated by the host's locale files (e.g. Spanish, as seed 004 shows them).
"""
from __future__ import annotations

import io
import time
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from ml_predictions.capabilities.predictions import record_prediction, reset_prediction_sampling
from ml_predictions.conf import ml_settings
from ml_predictions.data import get_data_source
from ml_predictions.errors import (
    InsufficientDataError,
    InvalidParameterError,
    MLError,
    NoActiveModelError,
    NotFittedError,
    NotFoundError,
)
from ml_predictions.estimators.segmentation.lifetime_value import fit_clv, summary_from_transactions
from ml_predictions.estimators.segmentation.segmenter import (
    CustomerSegmenter,
    SegmentationError,
    compute_rfm,
    confidence_from_distances,
    rfm_scores,
)
from ml_predictions.models import CustomerSegmentAssignment, MLModel, ModelType, Prediction
from ml_predictions.training.registry import load_artifact
from ml_predictions.training.types import ProgressCallback, TrainingOutcome

MODEL_TYPE = ModelType.CUSTOMER_SEGMENTATION
# Every parameter `train` reads; `manage.py train` rejects other keys and routes `train all` keys by it.
TRAIN_PARAMS = (
    "n_clusters", "min_clusters", "max_clusters", "selection_metric", "features", "use_pca", "pca_components",
    "random_state", "warm_start", "calc_date", "window_days", "include_customers_without_orders",
    "clv_purchase_horizon_days", "clv_horizon_months", "clv_monthly_discount_rate",
)

# Seed 004 shows these in Spanish ("Ofrecer descuentos exclusivos VIP", ...); the source strings are
# English and translated through the host's locale (LANGUAGE_CODE / Accept-Language).
MARKETING_ACTIONS: dict[str, list[Any]] = {
    "vip": [_("Offer exclusive VIP discounts"), _("Early access to new collections"),
            _("Premium loyalty programme")],
    "frequent": [_("Reward programme points on every purchase"), _("Personalised recommendations"),
                 _("Invite to the loyalty programme")],
    "occasional": [_("Seasonal promotions"), _("Reminder emails with new arrivals"),
                   _("Free shipping on the next order")],
    "at_risk": [_("Win-back campaign with a personal discount"), _("Ask for feedback on the last purchase"),
                _("Remind them of their favourite products")],
    "new": [_("Welcome series with a second-purchase discount"), _("Show best sellers in their category"),
            _("Invite them to create a wish list")],
    "inactive": [_("Reactivation campaign with a strong offer"), _("Survey: why did you stop buying?"),
                 _("Remove from frequent mailings to protect deliverability")],
}


def marketing_actions(segment_type: str) -> list[str]:
    """The segment type's actions as text in the active language."""
    return [str(text) for text in MARKETING_ACTIONS.get(segment_type, [])]


def domain_error(exc: SegmentationError) -> MLError:
    if exc.kind == "insufficient":
        return InsufficientDataError(str(exc), field=exc.field)
    if exc.kind == "not_fitted":
        return NotFittedError(str(exc))
    return InvalidParameterError(str(exc), field=exc.field)


def _to_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise InvalidParameterError(f"calc_date must be a date (YYYY-MM-DD); got {value!r}.", field="calc_date") from exc


def build_segmenter(params: dict[str, Any], init_centroids: Any = None) -> CustomerSegmenter:
    """A segmenter configured from request parameters over the settings' defaults."""
    n_clusters = params.get("n_clusters", "auto")
    if n_clusters in (None, ""):
        n_clusters = "auto"
    return CustomerSegmenter(
        n_clusters=n_clusters,
        min_clusters=int(params.get("min_clusters") or ml_settings.MIN_CLUSTERS),
        max_clusters=int(params.get("max_clusters") or ml_settings.MAX_CLUSTERS),
        selection_metric=params.get("selection_metric") or ml_settings.SEGMENTATION_SELECTION_METRIC,
        features=tuple(params.get("features") or ("recency_days", "frequency", "monetary")),
        use_pca=bool(params.get("use_pca", False)),
        pca_components=params.get("pca_components"),
        silhouette_sample_size=int(ml_settings.SEGMENTATION_SILHOUETTE_SAMPLE),
        random_state=int(params.get("random_state", ml_settings.RANDOM_STATE)),
        init_centroids=init_centroids,
    )


def previous_centroids(params: dict[str, Any]) -> Any:
    """Centroids of the active run when the new run uses the same features and PCA setting, else None."""
    if params.get("warm_start") is False:
        return None
    model = MLModel.objects.filter(model_type=MODEL_TYPE, is_active=True).first()
    if model is None:
        return None
    try:
        previous = load_artifact(model)["segmenter"]
    except Exception:  # noqa: BLE001 — an unreadable old artifact just means a cold start
        return None
    same = (list(previous.features) == list(params.get("features") or ("recency_days", "frequency", "monetary"))
            and bool(previous.use_pca) == bool(params.get("use_pca", False)))
    return getattr(previous, "centroids_log_", None) if same else None


def segment_frame(
    lines: pd.DataFrame,
    customers: pd.DataFrame | None,
    params: dict[str, Any],
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """RFM -> clusters -> names -> RFM scores -> CLV for every customer. Pure (no database access).

    Returns the fitted segmenter, the per-customer frame, CLV details and per-stage timings.
    """
    def step(percent: int, message: str) -> None:
        if progress is not None:
            progress(percent, message)

    timings: dict[str, float] = {}
    window_days = int(params.get("window_days") or ml_settings.SEGMENTATION_WINDOW_DAYS)
    include = params.get("include_customers_without_orders")
    include = ml_settings.SEGMENTATION_INCLUDE_CUSTOMERS_WITHOUT_ORDERS if include is None else bool(include)
    calc_date = _to_date(params.get("calc_date"))
    if lines.empty:
        raise InsufficientDataError("There are no orders to segment customers on.", field="calc_date")
    t0 = time.perf_counter()
    try:
        rfm = compute_rfm(lines, calc_date=calc_date, window_days=window_days, customers=customers,
                          include_without_orders=include)
    except SegmentationError as exc:
        raise domain_error(exc) from exc
    calc_ts = pd.Timestamp(calc_date, tz="UTC") if calc_date else (
        pd.Timestamp(lines["ordered_at"].max()).normalize() + pd.Timedelta(days=1))
    if not rfm["has_orders"].any():
        raise InsufficientDataError(
            f"No orders in the {window_days} days before {calc_ts.date()}; widen window_days or pick another "
            "calc_date.", field="window_days")
    timings["rfm_seconds"] = round(time.perf_counter() - t0, 3)
    step(30, f"RFM computed for {len(rfm)} customers")

    t0 = time.perf_counter()
    segmenter = build_segmenter(params, params.get("_init_centroids"))
    try:
        segmenter.fit(rfm)
    except SegmentationError as exc:
        raise domain_error(exc) from exc
    labels = segmenter.labels_
    dist = segmenter.kmeans_.transform(segmenter._embed(rfm))
    confidence = confidence_from_distances(dist)
    timings["clustering_seconds"] = round(time.perf_counter() - t0, 3)
    step(60, f"{segmenter.n_clusters_} clusters found")

    t0 = time.perf_counter()
    scores = rfm_scores(rfm)
    amounts = lines.assign(amount=lines["quantity"].to_numpy(dtype=float) * lines["unit_price"].to_numpy(dtype=float))
    summary = summary_from_transactions(amounts, calc_date=calc_ts)
    clv = fit_clv(
        summary,
        horizon_days=int(params.get("clv_purchase_horizon_days") or ml_settings.CLV_PURCHASE_HORIZON_DAYS),
        horizon_months=int(params.get("clv_horizon_months") or ml_settings.CLV_HORIZON_MONTHS),
        monthly_discount=float(params.get("clv_monthly_discount_rate", ml_settings.CLV_MONTHLY_DISCOUNT_RATE)),
        min_repeat_customers=int(ml_settings.CLV_MIN_REPEAT_CUSTOMERS),
    )
    pred = clv.predictions.reindex(rfm.index)
    timings["clv_seconds"] = round(time.perf_counter() - t0, 3)
    step(80, f"Lifetime value predicted ({clv.method})")

    frame = rfm.copy()
    frame["cluster"] = labels
    frame["cluster_name"] = segmenter.cluster_name(labels)
    frame["segment_type"] = segmenter.segment_type(labels)
    frame["confidence"] = confidence.round(4)
    frame["rfm_segment"] = scores["rfm_segment"]
    frame["rfm_name"] = scores["rfm_name"]
    frame["p_alive"] = pred["p_alive"].round(4)
    frame["expected_purchases"] = pred["expected_purchases"].round(4)
    frame["clv"] = pred["clv"].fillna(0.0).round(2)
    return {"segmenter": segmenter, "frame": frame, "clv": clv, "calc_date": calc_ts.date(),
            "window_days": window_days, "timings": timings}


def _plain(value: Any) -> Any:
    """numpy scalars -> Python, NaN/inf -> None: metrics are stored in a JSONField."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


def _metrics(result: dict[str, Any]) -> dict[str, Any]:
    seg: CustomerSegmenter = result["segmenter"]
    frame: pd.DataFrame = result["frame"]
    sizes = frame["cluster"].value_counts().reindex(range(seg.n_clusters_), fill_value=0)
    return _plain({
        "n_clusters": int(seg.n_clusters_),
        "n_customers": int(len(frame)),
        "silhouette_score": round(seg.metrics_["silhouette"], 4),
        "davies_bouldin": round(seg.metrics_["davies_bouldin"], 4),
        "calinski_harabasz": round(seg.metrics_["calinski_harabasz"], 2),
        "inertia": round(seg.metrics_["inertia"], 2),
        "cluster_sizes": {str(c): int(n) for c, n in sizes.items()},
        "cluster_names": {str(c): seg.cluster_names_[c] for c in range(seg.n_clusters_)},
        "segment_types": {str(c): seg.segment_types_[c] for c in range(seg.n_clusters_)},
        "selection_metric": seg.selection_metric,
        "k_selection": [{key: (round(v, 4) if isinstance(v, float) else v) for key, v in row.items()}
                        for row in seg.k_table_],
        "auto_k": bool(seg.auto_k_),
        "warm_started": bool(seg.warm_started_),
        "calc_date": result["calc_date"].isoformat(),
        "window_days": result["window_days"],
        "n_customers_with_orders": int(frame["has_orders"].sum()),
        "clv_method": result["clv"].method,
        "clv": result["clv"].details,
        "timings": result["timings"],
    })


def write_assignments(model: MLModel, frame: pd.DataFrame, calc_date: date) -> int:
    """Bulk-insert one row per customer: COPY on PostgreSQL, one executemany elsewhere."""
    table = CustomerSegmentAssignment._meta.db_table
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
    out = out.astype(object).where(out.notna(), None)
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
    return len(out)


def train(params: dict[str, Any], progress: ProgressCallback) -> TrainingOutcome:
    """Trainer for `customer_segmentation` (see ml_predictions.capabilities)."""
    progress(5, "Reading orders")
    t0 = time.perf_counter()
    calc_date = _to_date(params.get("calc_date"))
    source = get_data_source()
    lines = source.order_lines(end=calc_date)
    customers = source.customers()
    read_seconds = round(time.perf_counter() - t0, 3)
    progress(20, f"Read {len(lines)} order lines")
    result = segment_frame(lines, customers, {**params, "_init_centroids": previous_centroids(params)}, progress)
    result["timings"] = {"read_seconds": read_seconds, **result["timings"]}
    metrics = _metrics(result)
    seg: CustomerSegmenter = result["segmenter"]
    frame: pd.DataFrame = result["frame"]
    artifact = {
        "segmenter": seg,
        "calc_date": result["calc_date"],
        "window_days": result["window_days"],
        "clv_method": result["clv"].method,
        "clv_details": result["clv"].details,
        "features": list(seg.features),
    }

    def store(model: MLModel) -> None:
        write_assignments(model, frame, result["calc_date"])

    ordered = pd.to_datetime(lines["ordered_at"], utc=True)
    response = {"k_selection": metrics["k_selection"], "segment_recommendations": {
        t: marketing_actions(t) for t in sorted(set(seg.segment_types_.values()))}}
    return TrainingOutcome(
        artifact=artifact,
        algorithm="kmeans_rfm+bgnbd" if result["clv"].method == "bgnbd_gamma_gamma" else "kmeans_rfm",
        metrics=metrics,
        parameters={"n_clusters": seg.n_clusters if seg.n_clusters != "auto" else "auto",
                    "selection_metric": seg.selection_metric, "window_days": result["window_days"],
                    "calc_date": result["calc_date"].isoformat(), "use_pca": seg.use_pca,
                    "features": list(seg.features)},
        n_samples=len(frame),
        data_start=ordered.min().date(),
        data_end=ordered.max().date(),
        message=gettext_noop("Customer segmentation trained successfully"),
        response=response,
        on_registered=store,
    )


# --- read side -------------------------------------------------------------------------------------------


def resolve_run(calc_date: date | None = None) -> MLModel:
    """The active run, or the newest stored run computed for `calc_date` (seed 001's history)."""
    if calc_date is None:
        model = MLModel.objects.filter(model_type=MODEL_TYPE, is_active=True).first()
        if model is None:
            raise NoActiveModelError(
                "No active customer segmentation. Train one first (POST /api/ml/train-customer-segmentation/).")
        return model
    model_ids = CustomerSegmentAssignment.objects.filter(calc_date=calc_date).values("model_id").distinct()
    model = MLModel.objects.filter(pk__in=model_ids).order_by("-version").first()
    if model is None:
        raise NoActiveModelError(f"No stored segmentation run for calc_date {calc_date.isoformat()}.",
                                 details={"calc_date": calc_date.isoformat()})
    return model


def segment_names(model: MLModel) -> dict[str, str]:
    """cluster_name -> segment_type of a run, from its metrics (no row scan)."""
    names = model.metrics.get("cluster_names", {})
    types = model.metrics.get("segment_types", {})
    return {names[c]: types.get(c, names[c]) for c in names}


def segments_filter(model: MLModel, segment: str) -> dict[str, Any]:
    """Queryset filter for a segment given as a cluster name ('frequent_2'), a type ('vip') or a number."""
    names = segment_names(model)
    if segment in names:
        return {"cluster_name": segment}
    if segment in set(names.values()):
        return {"segment_type": segment}
    if segment.isdigit() and segment in model.metrics.get("cluster_names", {}):
        return {"cluster": int(segment)}
    known = sorted(set(names) | set(names.values()))
    raise NotFoundError(f"Unknown segment {segment!r}; this run has: {', '.join(known)}.", field="segment")


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


# --- prediction history ------------------------------------------------------------------------------------

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
