"""The pure segmentation service: RFM arithmetic, scores, naming rule, estimator contract."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from backend_django.shop.generator import GeneratorConfig, synthesize
from ml_predictions.errors import InsufficientDataError, InvalidParameterError, NotFittedError
from ml_predictions.estimators.segmentation.segmenter import (
    SEGMENT_TYPES,
    CustomerSegmenter,
    compute_rfm,
    confidence_from_distances,
    name_clusters,
    rfm_from_transactions,
    rfm_scores,
)


def _lines(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "product_id", "ordered_at", "quantity",
                                       "unit_price"]).assign(ordered_at=lambda d: pd.to_datetime(d["ordered_at"],
                                                                                                 utc=True))


LINES = _lines([
    ("o1", "a", "p1", "2026-06-01 10:00", 2, 10.0),   # order o1 has two lines -> one order of 35
    ("o1", "a", "p2", "2026-06-01 10:00", 1, 15.0),
    ("o2", "a", "p1", "2026-06-20 12:00", 1, 10.0),
    ("o3", "b", "p3", "2026-01-10 09:00", 1, 100.0),
    ("o4", "b", "p3", "2025-01-10 09:00", 1, 999.0),  # outside a 365-day window ending 2026-07-01
    ("o5", "c", "p1", "2026-07-05 09:00", 1, 50.0),   # after calc_date: ignored
])
CUSTOMERS = pd.DataFrame({"id": ["a", "b", "c", "d"],
                          "created_at": pd.to_datetime(["2026-05-01", "2024-01-01", "2026-03-01", "2026-06-15"],
                                                       utc=True)})


def test_compute_rfm_values_and_no_order_convention():
    rfm = compute_rfm(LINES, calc_date="2026-07-01", window_days=365, customers=CUSTOMERS)
    assert list(rfm.index) == ["a", "b", "c", "d"]
    a, b, c, d = (rfm.loc[k] for k in "abcd")
    assert a.frequency == 2 and a.monetary == pytest.approx(45.0) and a.unique_products == 2
    assert a.recency_days == pytest.approx(10.5)  # 2026-06-20 12:00 -> 2026-07-01 00:00
    assert a.avg_order_value == pytest.approx(22.5)
    assert a.tenure_days == pytest.approx(61.0)  # created 2026-05-01 before the first order
    assert b.frequency == 1 and b.monetary == pytest.approx(100.0)  # the 2025 order is outside the window
    assert b.purchases_per_month == pytest.approx(1 / (365 / 30.4375), rel=1e-3)
    for no_orders in (c, d):  # c only ordered after calc_date, d never ordered
        assert no_orders.recency_days == 366 and no_orders.frequency == 0 and no_orders.monetary == 0
        assert not no_orders.has_orders
    leave_out = compute_rfm(LINES, calc_date="2026-07-01", window_days=365, customers=CUSTOMERS,
                            include_without_orders=False)
    assert list(leave_out.index) == ["a", "b"]


def test_default_calc_date_is_day_after_last_order_and_window_validated():
    rfm = compute_rfm(LINES, window_days=30)
    assert rfm.loc["c", "recency_days"] == pytest.approx(1 - 9 / 24, abs=0.01)  # last order 2026-07-05 09:00 -> 07-06
    assert "b" not in rfm.index  # no order in the 30 days before 2026-07-06 and no customers table given
    with pytest.raises(InvalidParameterError) as err:
        compute_rfm(LINES, window_days=0)
    assert err.value.field == "window_days"
    with pytest.raises(InsufficientDataError):
        compute_rfm(LINES.iloc[0:0])


def test_rfm_from_the_peer_api_sales_rows():
    sales = pd.DataFrame({"sale_id": [1, 2, 3], "customer_id": [101, 101, 102],
                          "date": ["2025-01-05", "2025-02-10", "2025-02-01"], "amount": [120, 80, 50]})
    rfm = rfm_from_transactions(sales, window_days=3650)
    assert rfm.loc["101", "frequency"] == 2 and rfm.loc["101", "monetary"] == 200
    assert rfm.loc["101", "recency_days"] == 1 and rfm.loc["102", "recency_days"] == 10


def test_quintile_scores_and_rule_names():
    n = 10
    rfm = pd.DataFrame({"recency_days": np.arange(1, n + 1) * 10.0, "frequency": np.arange(n, 0, -1),
                        "monetary": np.arange(n, 0, -1) * 100.0}, index=[f"c{i}" for i in range(n)])
    s = rfm_scores(rfm)
    assert s.loc["c0", "rfm_segment"] == "555" and s.loc["c9", "rfm_segment"] == "111"
    assert s.loc["c0", "rfm_name"] == "champions" and s.loc["c9", "rfm_name"] == "lost"
    assert set(s["r_score"]) == {1, 2, 3, 4, 5} and (s["r_score"].value_counts() == 2).all()
    ties = pd.DataFrame({"recency_days": [5.0] * 4, "frequency": [1] * 4, "monetary": [10.0] * 4})
    assert rfm_scores(ties)["rfm_segment"].nunique() == 1  # equal values never split across scores


def _profiles(rows: list[tuple[float, float, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["recentness", "frequency", "monetary", "newness", "mean_monetary"])


def test_naming_is_one_to_one_up_to_six_and_suffixed_beyond():
    six = _profiles([(0.8, 1.5, 1.8, -0.5, 5000), (0.8, 1.0, 0.4, -0.3, 2000), (0, -0.2, -0.2, 0, 500),
                     (-1, 0.4, 0.4, -0.5, 900), (1, -0.8, -0.5, 1.5, 100), (-1.6, -1, -1, 0, 10)])
    types, names = name_clusters(six)
    assert [types[i] for i in range(6)] == list(SEGMENT_TYPES)
    assert names == types
    eight = _profiles([*six.itertuples(index=False), (0.7, 1.4, 1.7, -0.5, 4000), (-1.5, -0.9, -1.1, 0.1, 5)])
    types8, names8 = name_clusters(eight)
    assert len(set(names8.values())) == 8  # never two clusters with the same name
    assert types8[6] == "vip" and names8[0] == "vip" and names8[6] == "vip_2"  # numbered by mean monetary
    assert types8[7] == "inactive" and names8[7] == "inactive_2"
    two = _profiles([(1.0, 1.2, 1.3, -0.2, 3000), (-1.2, -1.0, -1.0, 0.0, 20)])
    t2, _ = name_clusters(two)
    assert t2[0] != t2[1] and t2[1] == "inactive"
    # two clearly lapsed clusters: the one-to-one choice would call one of them something else; the
    # margin keeps both inactive and the suffix keeps the names apart
    lapsed = _profiles([(1.0, 1.2, 1.3, -0.2, 3000), (-1.6, -1.0, -1.0, 0.0, 20), (-1.5, -0.9, -1.1, 0.1, 10)])
    t3, n3 = name_clusters(lapsed)
    assert t3 == {0: "vip", 1: "inactive", 2: "inactive"} and n3 == {0: "vip", 1: "inactive", 2: "inactive_2"}


def _blobs(seed: int = 0) -> pd.DataFrame:
    """Four planted groups, well separated in log space."""
    rng = np.random.default_rng(seed)
    centers = [(5, 20, 8000), (30, 6, 900), (200, 2, 150), (360, 1, 30)]
    parts = [pd.DataFrame({"recency_days": rng.lognormal(np.log(r), 0.15, 150),
                           "frequency": np.maximum(1, np.round(rng.lognormal(np.log(f), 0.1, 150))),
                           "monetary": rng.lognormal(np.log(m), 0.15, 150), "truth": i})
             for i, (r, f, m) in enumerate(centers)]
    df = pd.concat(parts, ignore_index=True)
    df["tenure_days"] = 400.0
    df.index = [f"c{i}" for i in range(len(df))]
    return df


@pytest.mark.parametrize("metric", ["silhouette", "davies_bouldin", "calinski_harabasz"])
def test_auto_k_recovers_planted_groups_and_reports_every_k(metric):
    df = _blobs()
    seg = CustomerSegmenter("auto", min_clusters=2, max_clusters=7, selection_metric=metric).fit(df)
    assert seg.n_clusters_ == 4
    assert [row["k"] for row in seg.k_table_] == [2, 3, 4, 5, 6, 7]
    assert all(set(row) == {"k", "inertia", "silhouette", "davies_bouldin", "calinski_harabasz", "stability"}
               for row in seg.k_table_)
    inertias = [row["inertia"] for row in seg.k_table_]
    assert inertias == sorted(inertias, reverse=True)  # the elbow curve decreases
    assert adjusted_rand_score(df["truth"], seg.labels_) > 0.99
    # cluster 0 is the highest-spending group and is named vip; the oldest-recency group is inactive
    assert seg.cluster_names_[0] == "vip"
    assert seg.segment_type(seg.labels_[df["truth"].to_numpy() == 3])[0] == "inactive"


def test_estimator_contract_determinism_and_confidence():
    df = _blobs(1)
    with pytest.raises(NotFittedError, match="not fitted"):
        CustomerSegmenter(4).predict(df)
    a = CustomerSegmenter(4, random_state=3).fit(df)
    b = CustomerSegmenter(4, random_state=3).fit(df)
    assert (a.labels_ == b.labels_).all()
    assert (a.predict(df) == a.labels_).all()
    labels, conf = a.predict_with_confidence(df)
    assert ((conf >= 0) & (conf <= 1)).all() and conf.mean() > 0.5
    assert confidence_from_distances(np.array([[0.0, 2.0], [1.0, 1.0]])).tolist() == [1.0, 0.0]
    pca = CustomerSegmenter(4, use_pca=True, pca_components=2).fit(df)
    assert pca.pca_ is not None and pca.kmeans_.cluster_centers_.shape == (4, 2)
    assert -1 <= a.score(df) <= 1


def test_invalid_parameters_and_too_few_customers():
    df = _blobs().iloc[:5]
    with pytest.raises(InsufficientDataError) as err:
        CustomerSegmenter(6).fit(df)
    assert "fewer than n_clusters" in str(err.value)
    with pytest.raises(InvalidParameterError) as err:
        CustomerSegmenter("auto", selection_metric="elbow").fit(df)
    assert err.value.field == "selection_metric"
    with pytest.raises(InvalidParameterError) as err:
        CustomerSegmenter(1).fit(df)
    assert err.value.field == "n_clusters"
    same = pd.DataFrame({"recency_days": [3.0] * 10, "frequency": [2] * 10, "monetary": [50.0] * 10})
    with pytest.raises(InsufficientDataError, match="distinct"):
        CustomerSegmenter(3).fit(same)


def test_generator_archetypes_are_recovered_better_than_chance():
    shop = synthesize(GeneratorConfig(customers=1500, products=60, orders=15000, years=2, seed=11,
                                      end_date=date(2026, 6, 30)))
    orders = shop.orders.rename(columns={"id": "order_id", "created_at": "ordered_at"})
    lines = shop.order_items.merge(orders[["order_id", "customer_id", "ordered_at"]])
    rfm = compute_rfm(lines, customers=shop.customers[["id", "created_at"]], window_days=365)
    seg = CustomerSegmenter(5).fit(rfm)
    truth = shop.truth.set_index("customer_id")["archetype"].reindex(rfm.index)
    assert adjusted_rand_score(truth, seg.labels_) > 0.25
    # most planted churned customers land in a cluster named inactive or at_risk
    churned_types = pd.Series(seg.segment_type(seg.labels_[(truth == "churned").to_numpy()]))
    assert churned_types.isin(["inactive", "at_risk"]).mean() > 0.7


def test_warm_start_from_previous_centroids():
    df = _blobs(2)
    first = CustomerSegmenter(4).fit(df)
    assert first.warm_started_ is False and first.centroids_log_.shape == (4, 3)
    # next week: the same customers, a little older and richer
    later = df.assign(recency_days=df["recency_days"] + 7, monetary=df["monetary"] * 1.05)
    warm = CustomerSegmenter(4, init_centroids=first.centroids_log_, random_state=99).fit(later)
    assert warm.warm_started_ is True
    assert adjusted_rand_score(first.labels_, warm.labels_) > 0.99
    assert warm.cluster_names_ == first.cluster_names_
    # a different k cannot reuse the centroids: cold start, said so
    assert CustomerSegmenter(3, init_centroids=first.centroids_log_).fit(later).warm_started_ is False
