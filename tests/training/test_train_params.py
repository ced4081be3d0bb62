"""`manage.py train --params`: strict for one type, routed per type for `all`."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ml_predictions.errors import InvalidParameterError
from ml_predictions.management.commands.train import ALIASES
from ml_predictions.models import MLModel, MLTrainingLog
from ml_predictions.training import runner as training
from ml_predictions.training import trainers
from tests.operations_fakes import quick_trainer

ALL_TYPES = ["sales_forecast", "product_recommendation", "customer_segmentation", "inventory"]
WORKFLOWS = {
    "sales_forecast": "ml_predictions.capabilities.forecasting.trainer",
    "product_recommendation": "ml_predictions.capabilities.recommendations.trainer",
    "customer_segmentation": "ml_predictions.capabilities.segmentation.trainer",
    "inventory": "ml_predictions.capabilities.inventory.trainer",
}


@pytest.fixture
def recorded(monkeypatch):
    """The real workflows' TRAIN_PARAMS, but trainers that only record what they were given."""
    calls: dict[str, dict] = {}
    for model_type, module in WORKFLOWS.items():
        def fake(params, progress, _type=model_type):
            calls[_type] = dict(params)
            return quick_trainer({}, progress)
        monkeypatch.setattr(f"{module}.train", fake)
    return calls


def train(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("train", *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- routing (pure) ---------------------------------------------------------------------------------------

def test_flat_keys_go_only_to_the_types_that_read_them():
    routed = training.route_train_params(
        {"n_clusters": 6, "model_type": "linear", "service_level": 0.9, "evaluate": False}, ALL_TYPES)
    assert routed == {
        "sales_forecast": {"model_type": "linear"},
        "product_recommendation": {"evaluate": False},
        "customer_segmentation": {"n_clusters": 6},
        "inventory": {"service_level": 0.9},
    }


def test_sections_by_alias_or_type_name_and_section_wins_over_flat_key():
    routed = training.route_train_params(
        {"segmentation": {"n_clusters": 4, "use_pca": True}, "sales_forecast": {"model_type": "ridge"},
         "model_type": "linear", "as_of": "2026-07-01"},
        ALL_TYPES, sections=ALIASES)
    assert routed["customer_segmentation"] == {"n_clusters": 4, "use_pca": True}
    assert routed["sales_forecast"] == {"model_type": "ridge"}
    assert routed["inventory"] == {"as_of": "2026-07-01"}
    assert routed["product_recommendation"] == {}


def test_a_key_no_type_reads_is_refused_by_name():
    with pytest.raises(InvalidParameterError, match="'n_clustres'") as caught:
        training.route_train_params({"n_clusters": 6, "n_clustres": 6}, ALL_TYPES, sections=ALIASES)
    assert caught.value.field == "n_clustres"
    assert "customer_segmentation: " in caught.value.message  # says which type reads what


def test_an_unknown_key_inside_a_section_is_refused_with_its_type():
    with pytest.raises(InvalidParameterError, match="Unknown inventory parameter.*n_clusters"):
        training.route_train_params({"inventory": {"n_clusters": 6}}, ALL_TYPES, sections=ALIASES)


def test_a_section_must_be_an_object():
    with pytest.raises(InvalidParameterError, match="forecast section must be an object") as caught:
        training.route_train_params({"forecast": "linear"}, ALL_TYPES, sections=ALIASES)
    assert caught.value.field == "forecast"


def test_section_for_a_type_that_is_not_installed_is_refused():
    with pytest.raises(InvalidParameterError, match="segmentation.*not available"):
        training.route_train_params({"segmentation": {"n_clusters": 4}}, ["inventory"], sections=ALIASES)


def test_api_train_inputs_only_send_parameters_the_trainers_declare():
    """The declared lists are the trainers' contract: every train endpoint's input must fit in them."""
    from ml_predictions.api.forecasting import TrainSalesForecastInput
    from ml_predictions.api.recommendations import TrainRecommendationInput
    from ml_predictions.api.segmentation import TrainInput

    for model_type, serializer in [("sales_forecast", TrainSalesForecastInput),
                                   ("product_recommendation", TrainRecommendationInput),
                                   ("customer_segmentation", TrainInput)]:
        assert set(serializer().fields) <= training.trainer_params(model_type), model_type


# --- the command --------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_train_all_with_a_flat_parameter_trains_every_type(recorded):
    out, err = train("all", "--params", '{"n_clusters": 6}')
    assert err == ""
    assert recorded == {"sales_forecast": {}, "product_recommendation": {}, "customer_segmentation": {"n_clusters": 6},
                        "inventory": {}}
    assert MLTrainingLog.objects.filter(status="succeeded").count() == 4
    assert MLTrainingLog.objects.get(model_type="customer_segmentation").parameters == {"n_clusters": 6}


@pytest.mark.django_db
def test_train_all_with_sections(recorded):
    train("all", "--params",
          '{"segmentation": {"n_clusters": 6}, "forecast": {"model_type": "linear"}, "service_level": 0.9}')
    assert recorded["customer_segmentation"] == {"n_clusters": 6}
    assert recorded["sales_forecast"] == {"model_type": "linear"}
    assert recorded["inventory"] == {"service_level": 0.9}
    assert recorded["product_recommendation"] == {}


@pytest.mark.django_db
def test_train_all_refuses_an_unknown_key_before_training_anything(recorded):
    with pytest.raises(CommandError, match="--params: No model type reads the parameter 'colour'"):
        train("all", "--params", '{"n_clusters": 6, "colour": "red"}')
    assert recorded == {}
    assert not MLTrainingLog.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["segmentation", "forecast", "recommendation", "inventory", "sales_forecast"])
def test_train_one_type_stays_strict(recorded, target):
    with pytest.raises(CommandError, match="--params: Unknown .* parameter.*colour"):
        train(target, "--params", '{"colour": "red"}')
    assert recorded == {} and not MLTrainingLog.objects.exists()


@pytest.mark.django_db
def test_train_one_type_does_not_accept_sections(recorded):
    with pytest.raises(CommandError, match="Unknown customer_segmentation parameter.*segmentation"):
        train("segmentation", "--params", '{"segmentation": {"n_clusters": 6}}')


@pytest.mark.django_db
def test_train_one_type_passes_its_parameters(recorded):
    train("segmentation", "--params", '{"n_clusters": 5, "use_pca": true}')
    assert recorded == {"customer_segmentation": {"n_clusters": 5, "use_pca": True}}


@pytest.mark.django_db
def test_host_trainer_without_declared_parameters_accepts_any_key(monkeypatch):
    monkeypatch.setitem(trainers._REGISTERED, "inventory", "tests.operations_fakes.quick_trainer")
    train("inventory", "--params", '{"coef": 3}')
    assert MLModel.objects.get(model_type="inventory").parameters == {"coef": 3}


@pytest.mark.django_db
def test_train_all_end_to_end_stores_each_types_parameters(small_shop):
    """The real trainers on a small shop: each model records the parameters meant for it, and only those."""
    out, err = train("all", "--params", '{"segmentation": {"n_clusters": 4, "calc_date": "2026-06-30"}, '
                     '"forecast": {"model_type": "linear", "level": "total"}, "evaluate": false, '
                     '"service_level": 0.9, "as_of": "2026-07-01"}')
    assert MLTrainingLog.objects.filter(status="succeeded").count() == 4, err
    active = {m.model_type: m for m in MLModel.objects.filter(is_active=True)}
    assert active["customer_segmentation"].metrics["n_clusters"] == 4
    assert active["sales_forecast"].algorithm == "linear"
    assert active["sales_forecast"].parameters["levels"] == ["total"]
    assert active["inventory"].parameters["service_level"] == 0.9
    assert "offline_evaluation" not in active["product_recommendation"].metrics
    logs = dict(MLTrainingLog.objects.values_list("model_type", "parameters"))
    assert logs["product_recommendation"] == {"evaluate": False}
    assert logs["inventory"] == {"service_level": 0.9, "as_of": "2026-07-01"}
