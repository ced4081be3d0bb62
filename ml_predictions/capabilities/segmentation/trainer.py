"""The segmentation trainer: read the data source, run the pure estimators, hand the runner the outcome.

`train` is what the training runner calls for `customer_segmentation` (registered in
ml_predictions.capabilities); `TRAIN_PARAMS` lists every parameter it reads, so the command and the
API refuse unknown ones by name. The per-customer rows are written by services.write_assignments once
the run is registered.
"""
from __future__ import annotations

import time
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from django.utils.translation import gettext_noop

from ml_predictions.capabilities.segmentation.drift import clv_drift_alert, retrain_drift
from ml_predictions.capabilities.segmentation.selectors import marketing_actions
from ml_predictions.capabilities.segmentation.services import write_assignments
from ml_predictions.conf import ml_settings
from ml_predictions.data import get_data_source
from ml_predictions.data.base import DataSource
from ml_predictions.errors import InsufficientDataError, InvalidParameterError
from ml_predictions.estimators.segmentation.clv_data import purchase_history
from ml_predictions.estimators.segmentation.clv_diagnostics import purchase_diagnostics
from ml_predictions.estimators.segmentation.clv_selection import predict_lifetime_value, select_clv
from ml_predictions.estimators.segmentation.netting import NettedLines, customer_purchase_lines
from ml_predictions.estimators.segmentation.segmenter import (
    CustomerSegmenter,
    compute_rfm,
    confidence_from_distances,
    rfm_scores,
)
from ml_predictions.models import MLModel, ModelType
from ml_predictions.training.registry import load_artifact
from ml_predictions.training.types import ProgressCallback, TrainingOutcome

MODEL_TYPE = ModelType.CUSTOMER_SEGMENTATION

CLV_ALGORITHM = {"bgnbd_gamma_gamma": "bgnbd", "mbgnbd_gamma_gamma": "mbgnbd", "pnbd_gamma_gamma": "pnbd",
                 "naive_rate_x_spend": "naive_clv",
                 "pnbd_gbm_mean": "pnbd+gbm_clv", "rank_ensemble": "rank_ensemble_clv",
                 "gradient_boosting": "gbm_clv", "simple_fallback": "simple_clv"}


# Every parameter `train` reads; `manage.py train` rejects other keys and routes `train all` keys by it.
TRAIN_PARAMS = (
    "n_clusters", "min_clusters", "max_clusters", "selection_metric", "features", "use_pca", "pca_components",
    "random_state", "warm_start", "calc_date", "window_days", "include_customers_without_orders",
    "clv_purchase_horizon_days", "clv_horizon_months", "clv_monthly_discount_rate", "clv_holdout_days",
)


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


def lifetime_value(lines: pd.DataFrame, calc_ts: pd.Timestamp, params: dict[str, Any]) -> dict[str, Any]:
    """Choose the CLV model on the shop's own last `clv_holdout_days`, refit it on all history, predict.

    Returns predictions (per customer id), the method really used, the fit details and the selection
    table (every candidate's holdout Spearman, MAE and totals).
    """
    amounts = pd.DataFrame({
        "customer_id": lines["customer_id"], "ordered_at": lines["ordered_at"],
        "product_id": lines["product_id"],
        "amount": lines["quantity"].to_numpy(dtype=float) * lines["unit_price"].to_numpy(dtype=float)})
    history = purchase_history(amounts, end=calc_ts)
    if history.n_customers == 0:
        raise InsufficientDataError("no customers with purchases to predict lifetime value for.", field="calc_date")
    holdout = _positive_int(params, "clv_holdout_days", ml_settings.CLV_HOLDOUT_DAYS)
    random_state = int(params.get("random_state", ml_settings.RANDOM_STATE))
    min_repeat = int(ml_settings.CLV_MIN_REPEAT_CUSTOMERS)
    selection = select_clv(history, holdout_days=holdout, random_state=random_state,
                           min_repeat_customers=min_repeat)
    horizon_days = _positive_int(params, "clv_purchase_horizon_days", ml_settings.CLV_PURCHASE_HORIZON_DAYS)
    horizon_months = _positive_int(params, "clv_horizon_months", ml_settings.CLV_HORIZON_MONTHS)
    monthly_discount = float(params.get("clv_monthly_discount_rate", ml_settings.CLV_MONTHLY_DISCOUNT_RATE))
    predictions, details = predict_lifetime_value(
        history, selection.chosen, horizon_days=horizon_days, horizon_months=horizon_months,
        monthly_discount=monthly_discount,
        holdout_days=selection.holdout_days, random_state=random_state, min_repeat_customers=min_repeat,
        calibration=selection.calibration if ml_settings.CLV_CALIBRATE_TOTALS else 1.0)
    details.update({"n_customers": history.n_customers, "horizon_days": horizon_days,
                    "monthly_discount_rate": monthly_discount,
                    "horizon_months": horizon_months, "time_unit": "days", "selection": selection.as_dict()})
    diagnostics = purchase_diagnostics(history, selection.calibration_end, min_repeat_customers=min_repeat)
    return {"predictions": predictions, "method": details["method"], "details": details,
            "selection": selection.as_dict(), "diagnostics": diagnostics}


def _positive_int(params: dict[str, Any], name: str, default: Any) -> int:
    value = params.get(name)
    value = default if value in (None, "") else value
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"{name} must be a positive integer; got {value!r}.", field=name) from exc
    if number < 1:
        raise InvalidParameterError(f"{name} must be a positive integer; got {value!r}.", field=name)
    return number


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
    rfm = compute_rfm(lines, calc_date=calc_date, window_days=window_days, customers=customers,
                      include_without_orders=include)
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
    segmenter.fit(rfm)
    labels = segmenter.labels_
    dist = segmenter.kmeans_.transform(segmenter._embed(rfm))
    confidence = confidence_from_distances(dist)
    timings["clustering_seconds"] = round(time.perf_counter() - t0, 3)
    step(60, f"{segmenter.n_clusters_} clusters found")

    t0 = time.perf_counter()
    scores = rfm_scores(rfm)
    clv = lifetime_value(lines, calc_ts, params)
    pred = clv["predictions"].reindex(rfm.index)
    timings["clv_seconds"] = round(time.perf_counter() - t0, 3)
    step(80, f"Lifetime value predicted ({clv['method']})")

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
        "seed_stability": round(seg.metrics_["stability"], 4),
        "k_choice": seg.selection_,
        "cluster_numbers_matched_to_previous": bool(seg.matched_previous_),
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
        "clv_method": result["clv"]["method"],
        "clv": result["clv"]["details"],
        "timings": result["timings"],
    })


def net_purchase_lines(source: DataSource, end: Any = None) -> tuple[NettedLines, set[str]]:
    """What segmentation, CLV and the drift check count as purchases: the source's lines before `end` with
    its refunds netted off and its anonymous customers left out (netting.py); and those customers' ids."""
    anonymous = source.anonymous_customer_ids()
    netted = customer_purchase_lines(source.order_lines(end=end), source.refund_lines(end=end),
                                     excluded_customers=anonymous)
    return netted, anonymous


def train(params: dict[str, Any], progress: ProgressCallback) -> TrainingOutcome:
    """Trainer for `customer_segmentation` (see ml_predictions.capabilities)."""
    progress(5, "Reading orders")
    t0 = time.perf_counter()
    calc_date = _to_date(params.get("calc_date"))
    source = get_data_source()
    netted, anonymous = net_purchase_lines(source, end=calc_date)
    lines = netted.lines
    customers = source.customers()
    customers = customers[~customers["id"].astype(str).isin(anonymous)] if anonymous else customers
    read_seconds = round(time.perf_counter() - t0, 3)
    progress(20, f"Read {len(lines)} order lines, {netted.stats['return_lines']} returned")
    result = segment_frame(lines, customers, {**params, "_init_centroids": previous_centroids(params)}, progress)
    result["timings"] = {"read_seconds": read_seconds, **result["timings"]}
    metrics = _metrics(result)
    metrics["returns"] = _plain({**netted.stats, "anonymous_customers_excluded": len(anonymous)})
    progress(85, "Comparing with earlier runs")
    t0 = time.perf_counter()
    metrics["drift"] = _plain(retrain_drift(frame=result["frame"], lines=lines, calc_date=result["calc_date"]))
    metrics["timings"]["drift_seconds"] = round(time.perf_counter() - t0, 3)
    seg: CustomerSegmenter = result["segmenter"]
    frame: pd.DataFrame = result["frame"]
    artifact = {
        "segmenter": seg,
        "calc_date": result["calc_date"],
        "window_days": result["window_days"],
        "clv_method": result["clv"]["method"],
        "clv_details": result["clv"]["details"],
        "clv_diagnostics": result["clv"]["diagnostics"],
        "features": list(seg.features),
    }

    def store(model: MLModel) -> None:
        write_assignments(model, frame, result["calc_date"])
        clv_drift_alert(model, metrics["drift"])

    ordered = pd.to_datetime(lines["ordered_at"], utc=True)
    response = {"k_selection": metrics["k_selection"], "clv_selection": metrics["clv"]["selection"],
                "drift": metrics["drift"],
                "segment_recommendations": {
        t: marketing_actions(t) for t in sorted(set(seg.segment_types_.values()))}}
    return TrainingOutcome(
        artifact=artifact,
        algorithm=f"kmeans_rfm+{CLV_ALGORITHM.get(result['clv']['method'], result['clv']['method'])}",
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
