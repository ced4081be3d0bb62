"""Champion/challenger: a retrain activates a new version only when it is not worse on the holdout."""
from __future__ import annotations

import pytest
from django.core.management import call_command

from ml_predictions.models import MLModel, MLTrainingLog
from ml_predictions.training import runner, trainers
from ml_predictions.training.champion import SCORE_RULES, is_worse, judge
from ml_predictions.training.types import TrainingOutcome

# The score the next fake training reports (recall_at_10, higher is better), and what the same-holdout
# hook says of any artifact: the artifact carries its "true" score on the current holdout.
STATE = {"score": 0.30, "hook": False}


def scored_trainer(params, progress):
    score = STATE["score"]
    hook = (lambda artifact: artifact["holdout_score"]) if STATE["hook"] else None
    return TrainingOutcome(artifact={"holdout_score": score}, algorithm="fake", metrics={"recall_at_10": score},
                           score_artifact=hook)


@pytest.fixture
def fake_recommender(monkeypatch):
    monkeypatch.setitem(trainers._REGISTERED, "product_recommendation", "tests.training.test_champion.scored_trainer")
    STATE.update(score=0.30, hook=False)


def train(score: float, activation: str = "champion") -> MLTrainingLog:
    STATE["score"] = score
    return runner.train_now("product_recommendation", {}, trigger="schedule", activation=activation)


def active_score() -> float:
    return MLModel.objects.get(model_type="product_recommendation", is_active=True).metrics["recall_at_10"]


def test_is_worse_respects_direction_and_tolerance():
    assert is_worse(0.28, 0.30, higher_is_better=True, tolerance=0.05)
    assert not is_worse(0.295, 0.30, higher_is_better=True, tolerance=0.05)
    assert is_worse(1.10, 1.0, higher_is_better=False, tolerance=0.05)
    assert not is_worse(1.04, 1.0, higher_is_better=False, tolerance=0.05)
    assert not is_worse(0.9, 1.0, higher_is_better=False, tolerance=0.0)


def test_every_model_type_has_a_rule():
    from ml_predictions.models import ModelType

    assert set(SCORE_RULES) == set(ModelType.values)
    assert SCORE_RULES["sales_forecast"].higher_is_better is False
    assert SCORE_RULES["inventory"] is None


@pytest.mark.django_db
def test_worse_challenger_is_registered_inactive_with_both_scores(fake_recommender, settings):
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "CHAMPION_TOLERANCE": 0.05}
    first = train(0.30)
    assert first.status == "succeeded" and first.result["activated"] is True
    assert first.result["challenger"]["reason"] == "no active version to beat"
    worse = train(0.20)
    assert worse.status == "succeeded"
    assert worse.result["activated"] is False and worse.ml_model.is_active is False
    verdict = worse.result["challenger"]
    assert verdict["accepted"] is False
    assert (verdict["challenger_score"], verdict["champion_score"]) == (0.20, 0.30)
    assert verdict["champion_version"] == first.ml_model.version and verdict["same_holdout"] is False
    assert "rejected" in worse.result["message"]
    assert worse.ml_model.metrics["challenger"] == verdict  # on the version too
    assert active_score() == 0.30
    within = train(0.29)  # 3 % worse: inside the 5 % tolerance
    assert within.result["activated"] is True and active_score() == 0.29


@pytest.mark.django_db
def test_force_and_explicit_trainings_activate_anyway(fake_recommender):
    train(0.30)
    forced = train(0.10, activation="force")
    assert forced.result["activated"] is True and forced.result["challenger"]["reason"] == "forced"
    explicit = train(0.05, activation="always")
    assert explicit.result["activated"] is True and "challenger" not in explicit.result
    assert active_score() == 0.05


@pytest.mark.django_db
def test_same_holdout_hook_rescores_the_champion(fake_recommender):
    """With the hook, the champion is judged on the challenger's holdout, not on its stored score."""
    train(0.30)
    MLModel.objects.filter(is_active=True).update(metrics={"recall_at_10": 0.90})  # stale, flattering score
    STATE["hook"] = True
    log = train(0.31)
    verdict = log.result["challenger"]
    assert verdict["same_holdout"] is True and verdict["champion_score"] == 0.30 and verdict["accepted"]


@pytest.mark.django_db
def test_missing_scores_and_no_rule_are_accepted():
    v = judge(model_type="inventory", challenger_metrics={}, champion=MLModel(version=1, metrics={}))
    assert v.accepted and "always accepted" in v.reason
    nan = judge(model_type="product_recommendation", challenger_metrics={"recall_at_10": float("nan")},
                champion=MLModel(version=1, metrics={"recall_at_10": 0.3}))
    assert nan.accepted and nan.challenger_score is None and "no recall_at_10" in nan.reason


@pytest.mark.django_db
def test_retrain_models_keeps_the_champion_and_says_so(fake_recommender, capsys):
    train(0.30)
    STATE["score"] = 0.10
    call_command("retrain_models", "--only", "recommendation")
    out = capsys.readouterr().out
    assert "not activated" in out and "rejected" in out
    assert active_score() == 0.30
    call_command("retrain_models", "--only", "recommendation", "--force")
    assert active_score() == 0.10


@pytest.mark.django_db
def test_api_retrain_is_a_challenge_and_force_overrides(fake_recommender, staff_client):
    from ml_predictions.dashboard.selectors import challenger_verdicts

    train(0.30)
    STATE["score"] = 0.10
    res = staff_client.post("/api/ml/retrain/", {"model_type": "recommendation"}, format="json")
    assert res.status_code == 200
    body = res.json()
    assert body["activated"] is False and body["challenger"]["champion_score"] == 0.30
    assert active_score() == 0.30
    verdicts = challenger_verdicts()
    assert [v["accepted"] for v in verdicts] == [False, True]
    assert verdicts[0]["challenger_score"] == 0.10 and verdicts[0]["model_type"] == "product_recommendation"
    res = staff_client.post("/api/ml/retrain/", {"model_type": "recommendation", "force": True}, format="json")
    assert res.json()["activated"] is True and active_score() == 0.10
    bad = staff_client.post("/api/ml/retrain/", {"model_type": "recommendation", "force": "maybe"}, format="json")
    assert bad.status_code == 400 and "force" in bad.json()["error"]["fields"]


def _forecast_metrics(mase_by_level: dict[str, float], primary: str) -> dict:
    levels = {lvl: {"revenue": {"mase": m}, "units": {"mase": m}} for lvl, m in mase_by_level.items()}
    return {"primary": f"{primary}/revenue", "mase": mase_by_level[primary], "levels": levels}


def test_forecast_challenger_is_judged_within_its_level():
    champion = MLModel(version=3, metrics=_forecast_metrics({"total": 0.80, "category": 1.40}, "total"))
    # a category-only challenger: its 1.30 beats the champion's category 1.40, not its total 0.80
    better = judge(model_type="sales_forecast", champion=champion,
                   challenger_metrics=_forecast_metrics({"category": 1.30, "total": 0.80}, "category"))
    assert better.accepted and better.champion_score == 1.40 and better.challenger_score == 1.30
    assert better.metric == "mase (category/revenue)"
    worse = judge(model_type="sales_forecast", champion=champion,
                  challenger_metrics=_forecast_metrics({"category": 1.70, "total": 0.80}, "category"))
    assert not worse.accepted and worse.champion_score == 1.40
    # a total challenger compared with the champion's total, whatever its category figures
    total = judge(model_type="sales_forecast", champion=champion,
                  challenger_metrics=_forecast_metrics({"total": 0.95}, "total"))
    assert not total.accepted and total.champion_score == 0.80


def test_forecast_level_the_champion_lacks_has_nothing_to_beat():
    champion = MLModel(version=2, metrics=_forecast_metrics({"total": 0.80}, "total"))
    verdict = judge(model_type="sales_forecast", champion=champion,
                    challenger_metrics=_forecast_metrics({"product": 9.0}, "product"))
    assert verdict.accepted and "does not serve product/revenue" in verdict.reason
