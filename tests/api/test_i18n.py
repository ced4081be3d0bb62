"""Messages in English by default and in Spanish for Accept-Language: es or LANGUAGE_CODE=es."""
from __future__ import annotations

from pathlib import Path

import pytest

from ml_predictions.training import runner as training
from ml_predictions.training import trainers
from tests.helpers import assert_error

LOCALE = Path(__file__).resolve().parents[2] / "ml_predictions" / "locale" / "es" / "LC_MESSAGES"


def test_compiled_catalog_is_committed_and_current():
    """A fresh machine must not need gettext: the compiled .mo ships, and every entry is translated."""
    mo, po = LOCALE / "django.mo", LOCALE / "django.po"
    assert mo.exists() and mo.stat().st_size > 1000
    from django.utils.translation import trans_real

    catalog = trans_real.translation("es")
    assert catalog.gettext("Recent trainings") == "Entrenamientos recientes"
    untranslated = [line for line in po.read_text(encoding="utf-8").split("\n\n")[1:] if line.rstrip().endswith('msgstr ""')]
    assert untranslated == []


@pytest.fixture
def inventory_training(monkeypatch):
    monkeypatch.setitem(trainers._REGISTERED, "inventory", "tests.operations_fakes.quick_trainer")
    running = training.start_training("inventory", {})
    return running


@pytest.mark.django_db
def test_conflict_message_follows_accept_language(staff_client, inventory_training):
    body = {"model_type": "inventory"}
    spanish = staff_client.post("/api/ml/retrain/", body, format="json", HTTP_ACCEPT_LANGUAGE="es")
    assert_error(spanish, 409, "ya hay un entrenamiento de inventory en cola", "espere")
    english = staff_client.post("/api/ml/retrain/", body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert_error(english, 409, "already queued", "wait for it to finish")


@pytest.mark.django_db
def test_language_code_setting_chooses_spanish(settings, staff_client, inventory_training):
    settings.LANGUAGE_CODE = "es"
    res = staff_client.post("/api/ml/retrain/", {"model_type": "inventory"}, format="json")
    assert_error(res, 409, "espere a que termine")


@pytest.mark.django_db
def test_validation_and_auth_errors_in_spanish(staff_client, anon_client):
    res = staff_client.post("/api/ml/retrain/", {}, format="json", HTTP_ACCEPT_LANGUAGE="es")
    body = assert_error(res, 400, "model_type")
    assert body["error"]["fields"]["model_type"] == ["Este campo es requerido."]
    res = anon_client.get("/api/ml/dashboard-summary/", HTTP_ACCEPT_LANGUAGE="es")
    assert res.status_code == 401 and "autenticación" in res.json()["error"]["message"]


@pytest.mark.django_db
def test_dashboard_page_in_spanish(client, staff_user):
    client.force_login(staff_user)
    html = client.get("/api/ml/dashboard/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Entrenamientos recientes" in html and "Principales alertas de inventario" in html
    assert "reentrenados cada semana" in html
    html = client.get("/api/ml/dashboard/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Recent trainings" in html


@pytest.mark.django_db
def test_capability_texts_are_translated_to_spanish(small_shop, staff_client):
    """The spec's boutique speaks Spanish: the health advice and marketing actions follow Accept-Language."""
    from ml_predictions.training.runner import train_now

    english = staff_client.get("/api/ml/inventory-health/").json()["recommendations"]
    spanish = staff_client.get("/api/ml/inventory-health/", HTTP_ACCEPT_LANGUAGE="es").json()["recommendations"]
    assert len(english) == len(spanish) and english != spanish
    assert any(r.startswith("Reabastecer") or "producto" in r for r in spanish)
    assert train_now("customer_segmentation", {"n_clusters": 6}).status == "succeeded"
    segments = staff_client.get("/api/ml/segments/", HTTP_ACCEPT_LANGUAGE="es").json()["segments"]
    actions = {a for s in segments for a in s["recommendations"]}
    assert actions & {"Ofrecer descuentos exclusivos VIP", "Programa de lealtad premium", "Invitar al programa de lealtad",
                      "Promociones de temporada", "Campaña de reactivación con una oferta fuerte",
                      "Serie de bienvenida con descuento en la segunda compra"}


@pytest.mark.django_db
def test_train_message_follows_the_request_language(small_shop, staff_client):
    """Trainers store the English msgid; the answer translates it for whoever asks."""
    english = staff_client.post("/api/ml/train-customer-segmentation/", {"n_clusters": 3}, format="json",
                                HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 200, english.content
    assert english.json()["message"] == "Customer segmentation trained successfully"
    spanish = staff_client.post("/api/ml/train-product-recommendation/", {}, format="json",
                                HTTP_ACCEPT_LANGUAGE="es")
    assert spanish.status_code == 200, spanish.content
    assert spanish.json()["message"] == "Modelo de recomendaciones entrenado con éxito"
    again = staff_client.post("/api/ml/train-product-recommendation/", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert again.json()["message"] == "Product recommendation model trained successfully"
