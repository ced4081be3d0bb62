"""Useful k (business range, stability tie-break) and stable cluster numbers and names across retrains."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from backend_django.shop.generator import GeneratorConfig, synthesize
from ml_predictions.errors import InvalidParameterError
from ml_predictions.estimators.segmentation.segmenter import (
    CustomerSegmenter,
    compute_rfm,
    match_to_previous,
    seed_stability,
)
from tests.estimators.contract import check_estimator_contract


@pytest.fixture(scope="module")
def rfm() -> pd.DataFrame:
    shop = synthesize(GeneratorConfig(customers=1200, products=60, orders=12000, years=2, seed=3,
                                      end_date=date(2026, 6, 30)))
    orders = shop.orders.rename(columns={"id": "order_id", "created_at": "ordered_at"})
    lines = shop.order_items.merge(orders[["order_id", "customer_id", "ordered_at"]])
    return compute_rfm(lines, customers=shop.customers[["id", "created_at"]], window_days=365)


@pytest.fixture(scope="module")
def auto(rfm) -> CustomerSegmenter:
    return CustomerSegmenter("auto").fit(rfm)


def test_auto_k_searches_the_business_range_and_reports_every_score(auto):
    assert [row["k"] for row in auto.k_table_] == [4, 5, 6, 7, 8]
    assert 4 <= auto.n_clusters_ <= 8 and auto.n_clusters_ == auto.selection_["chosen"]
    for row in auto.k_table_:
        assert -1 <= row["silhouette"] <= 1 and row["davies_bouldin"] > 0 and row["calinski_harabasz"] > 0
        assert -0.5 <= row["stability"] <= 1
    assert auto.selection_["chosen"] in auto.selection_["tied"]
    assert auto.selection_["best_by_metric"] in auto.selection_["tied"]
    assert len(set(auto.cluster_names_.values())) == auto.n_clusters_


def test_stability_breaks_ties_and_the_metric_still_decides_outside_them():
    seg = CustomerSegmenter("auto", selection_tolerance=0.05)
    table = [{"k": 4, "silhouette": 0.50, "davies_bouldin": 0.9, "calinski_harabasz": 100.0, "stability": 0.60},
             {"k": 5, "silhouette": 0.49, "davies_bouldin": 0.8, "calinski_harabasz": 120.0, "stability": 0.95},
             {"k": 6, "silhouette": 0.30, "davies_bouldin": 1.5, "calinski_harabasz": 90.0, "stability": 0.99}]
    assert seg._choose_k(table) == 5 and seg.selection_["tied"] == [4, 5] and seg.selection_["best_by_metric"] == 4
    assert CustomerSegmenter("auto", selection_tolerance=0.0)._choose_k(table) == 4
    assert CustomerSegmenter("auto", selection_metric="davies_bouldin")._choose_k(table) == 5
    assert CustomerSegmenter("auto", selection_metric="calinski_harabasz", selection_tolerance=0.0)._choose_k(table) == 5


def test_seed_stability_is_one_for_planted_blobs_and_lower_for_noise():
    rng = np.random.default_rng(0)
    blobs = np.concatenate([rng.normal(c, 0.05, (100, 2)) for c in ((0, 0), (3, 0), (0, 3))])
    assert seed_stability(blobs, 3, [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    noise = rng.uniform(0, 1, (300, 2))
    assert seed_stability(noise, 7, [1, 2, 3, 4, 5]) < 0.95


def test_hungarian_matching_keeps_previous_numbers():
    previous = np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 0.0]])
    fitted = np.array([[10.1, 0.1], [0.1, -0.1], [5.2, 4.9]])  # the same clusters, shuffled by K-means
    order = match_to_previous(fitted, previous, value=np.array([1.0, 2.0, 3.0]))
    assert order.tolist() == [1, 2, 0]  # number 0 is the fitted cluster near (0, 0), ...
    more = np.vstack([fitted, [[20.0, 20.0]]])  # one cluster more: it takes the next number
    assert match_to_previous(more, previous, np.array([1.0, 2.0, 3.0, 9.0])).tolist() == [1, 2, 0, 3]
    fewer = fitted[[0, 2]]  # the (0, 0) cluster vanished: numbers stay in the previous order, compacted
    assert match_to_previous(fewer, previous, np.array([1.0, 2.0])).tolist() == [1, 0]


def test_names_and_numbers_stay_stable_across_two_retrains(rfm, auto):
    shuffled = rfm.sample(frac=1.0, random_state=1)
    second = CustomerSegmenter("auto", random_state=7, init_centroids=auto.centroids_log_).fit(shuffled)
    third = CustomerSegmenter("auto", random_state=11, init_centroids=second.centroids_log_).fit(rfm)
    assert second.warm_started_ and second.matched_previous_ and third.warm_started_
    for run, frame in ((second, shuffled), (third, rfm)):
        assert run.n_clusters_ == auto.n_clusters_
        assert run.cluster_names_ == auto.cluster_names_ and run.segment_types_ == auto.segment_types_
        labels = pd.Series(run.labels_, index=frame.index).reindex(rfm.index).to_numpy()
        assert (labels == auto.labels_).mean() > 0.99
    # a cold start with another seed may number clusters differently; matching to the previous run
    # puts them back
    cold = CustomerSegmenter(auto.n_clusters_, random_state=123, n_init=1).fit(shuffled)
    matched = CustomerSegmenter(auto.n_clusters_, random_state=123, n_init=1,
                                init_centroids=auto.centroids_log_).fit(shuffled)
    assert matched.cluster_names_ == auto.cluster_names_
    assert set(cold.cluster_names_.values()) == set(auto.cluster_names_.values())


def test_segmenter_follows_the_estimator_contract(rfm):
    check_estimator_contract(
        lambda: CustomerSegmenter(5, random_state=3),
        lambda est: est.fit(rfm),
        lambda est: est.labels_,
        lambda est: est.predict(rfm),
    )


def test_business_range_is_validated_by_name(rfm):
    with pytest.raises(InvalidParameterError) as info:
        CustomerSegmenter("auto", min_clusters=6, max_clusters=5).fit(rfm)
    assert info.value.field == "max_clusters"
    with pytest.raises(InvalidParameterError) as info:
        CustomerSegmenter("auto", min_clusters=1).fit(rfm)
    assert info.value.field == "min_clusters"
