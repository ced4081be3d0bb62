"""The staff dashboard in headless Chromium: log in through the admin, open the page, check the panels.

Driven through chromedriver's W3C WebDriver HTTP API (tests/webdriver.py, stdlib only). The page is
served by pytest-django's live_server. A screenshot goes to test-artifacts/ops_dashboard.png.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from backend_django.shop.generator import GeneratorConfig, synthesize, write_shop
from ml_predictions.models import InventoryAlert
from ml_predictions.training import runner as training
from ml_predictions.training import trainers
from tests.conftest import TEST_END_DATE
from tests.helpers import PNG_MAGIC
from tests.webdriver import Browser, find_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = find_chromium()

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                                                "(Debian: apt-get install chromium chromium-driver)"),
]


@pytest.fixture
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    driver = Browser(*CHROMIUM, log_path=ARTIFACTS / "chromedriver.log")
    yield driver
    driver.quit()


@pytest.fixture
def dashboard_data(transactional_db, staff_user, monkeypatch):
    write_shop(synthesize(GeneratorConfig(customers=60, products=12, orders=400, years=1, seed=3,
                                          end_date=TEST_END_DATE)))
    monkeypatch.setitem(trainers._REGISTERED, "inventory", "tests.operations_fakes.quick_trainer")
    monkeypatch.setitem(trainers._REGISTERED, "customer_segmentation", "tests.operations_fakes.failing_trainer")
    training.train_now("inventory", {})
    training.train_now("inventory", {})
    training.train_now("customer_segmentation", {})
    for i, urgency in enumerate([3, 5, 4]):
        InventoryAlert.objects.create(product_id=f"p{i}", product_name=f"Vestido {i}", alert_type="reorder_now",
                                      current_stock=2, recommended_stock=30, urgency_level=urgency)


def test_dashboard_in_headless_chromium(live_server, browser, dashboard_data):
    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.type("#id_username", "staff")
    browser.type("#id_password", "pw-staff-123")
    browser.click("input[type=submit]")
    browser.wait_for("return document.querySelector('#ml-dashboard-link a') !== null")
    browser.click("#ml-dashboard-link a")  # the admin index links to the dashboard
    browser.wait_for("return document.querySelector('#panel-trainings') !== null")
    assert browser.current_url == f"{live_server.url}/api/ml/dashboard/"

    # every chart panel settles: an image, or a message saying why there is none
    states = browser.wait_for("""
        var c = Array.from(document.querySelectorAll('.ml-chart-body'));
        return c.every(function (e) { return e.dataset.state; }) && c.map(function (e) { return e.dataset.state; });
    """)
    assert len(states) == 2
    trainings = browser.script("return Array.from(document.querySelectorAll('#trainings-table tbody tr'))"
                               ".map(function (r) { return r.cells[1].textContent.trim(); });")
    assert trainings == ["Failed", "Succeeded", "Succeeded"]
    alerts = browser.script("return Array.from(document.querySelectorAll('#alerts-table tbody tr'))"
                            ".map(function (r) { return [r.cells[0].textContent, r.cells[2].textContent]; });")
    assert alerts == [["Vestido 1", "5/5"], ["Vestido 2", "4/5"], ["Vestido 0", "3/5"]]

    # the sales panel always has a chart: the forecast band when a forecast is trained, else the history
    sales_width = browser.wait_for("""
        var img = document.querySelector('#panel-sales img');
        return img && img.complete && img.naturalWidth;
    """)
    assert sales_width > 300
    if states[0] == "fallback":
        note = browser.script("return document.querySelector('#panel-sales .ml-note').textContent;")
        assert "sales forecast" in note
    # segmentation is not trained (its training failed): the panel says so instead of breaking
    seg = browser.script("var p = document.querySelector('#panel-segments .ml-chart-body');"
                         "return [p.dataset.state, p.textContent.trim()];")
    assert seg[0] == "unavailable" and "customer segmentation" in seg[1], seg
    errors = browser.script("return document.querySelectorAll('.ml-chart-body img').length;")
    assert errors == 1

    png = browser.screenshot(ARTIFACTS / "ops_dashboard.png")
    assert png.startswith(PNG_MAGIC) and len(png) > 10_000


def test_dashboard_requires_login(live_server, browser, dashboard_data):
    browser.get(f"{live_server.url}/api/ml/dashboard/")
    browser.wait_for("return document.querySelector('#id_username') !== null")
    assert "/admin/login/" in browser.current_url


@pytest.fixture
def segmented_shop(transactional_db, staff_user):
    write_shop(synthesize(GeneratorConfig(customers=150, products=20, orders=1500, years=1, seed=5,
                                          end_date=TEST_END_DATE)))
    assert training.train_now("customer_segmentation", {"n_clusters": 3}).status == "succeeded"
    from ml_predictions.models import CustomerSegmentAssignment

    return set(CustomerSegmentAssignment.objects.values_list("customer_id", flat=True))


def _log_in_to_dashboard(browser, live_server) -> None:
    browser.get(f"{live_server.url}/admin/login/?next=/api/ml/dashboard/")
    browser.type("#id_username", "staff")
    browser.type("#id_password", "pw-staff-123")
    browser.click("input[type=submit]")
    browser.wait_for("return ['rfm-scatter', 'rfm-3d'].every(function (id) {"
                     " var e = document.getElementById(id); return e && e.dataset.state === 'ready'; })")


def test_interactive_rfm_views(live_server, browser, segmented_shop):
    """Hover shows the customer, the wheel zooms, drag rotates (3-D), legend boxes toggle segments."""
    _log_in_to_dashboard(browser, live_server)
    customers = segmented_shop

    # 2-D scatter: one circle per customer, hover -> tooltip naming that customer
    circles = browser.script("return document.querySelectorAll('#rfm-scatter circle').length;")
    assert circles == len(customers)
    hovered = browser.script("""
        var c = document.querySelector('#rfm-scatter circle');
        c.dispatchEvent(new MouseEvent('mouseenter', {bubbles: true, clientX: 100, clientY: 100}));
        var tip = document.querySelector('#rfm-scatter .ml-tooltip');
        return [tip.hidden, tip.dataset.customer, tip.textContent];
    """)
    assert hovered[0] is False and hovered[1] in customers and hovered[1] in hovered[2]

    # wheel over the plot zooms in: the visible domain shrinks
    spans = browser.script("""
        var view = document.getElementById('rfm-scatter').mlView, before = view.domain();
        var svg = document.querySelector('#rfm-scatter svg'), r = svg.getBoundingClientRect();
        svg.dispatchEvent(new WheelEvent('wheel', {deltaY: -120, clientX: r.left + r.width / 2,
                                                   clientY: r.top + r.height / 2, bubbles: true, cancelable: true}));
        var after = view.domain();
        return [before.x1 - before.x0, after.x1 - after.x0, before.y1 - before.y0, after.y1 - after.y0];
    """)
    assert spans[1] == pytest.approx(spans[0] * 0.8) and spans[3] == pytest.approx(spans[2] * 0.8)

    # untick the first segment: exactly its circles disappear
    toggled = browser.script("""
        var root = document.getElementById('rfm-scatter'), box = root.querySelector('.ml-legend input');
        var name = box.dataset.segment, before = root.mlView.visibleCount();
        var own = root.querySelectorAll('circle[data-segment="' + name + '"]').length;
        box.click();
        return [before, own, root.mlView.visibleCount()];
    """)
    assert toggled[1] > 0 and toggled[2] == toggled[0] - toggled[1]

    # 3-D: hovering where a point is drawn names its customer; a drag rotates the cloud
    tip3d = browser.script("""
        var root = document.getElementById('rfm-3d'), canvas = root.querySelector('canvas');
        var r = canvas.getBoundingClientRect(), p = root.mlView.screenPosition(0);
        canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + p.x, clientY: r.top + p.y, bubbles: true}));
        var tip = root.querySelector('.ml-tooltip');
        return [tip.hidden, tip.dataset.customer];
    """)
    assert tip3d[0] is False and tip3d[1] in customers
    rotated = browser.script("""
        var root = document.getElementById('rfm-3d'), canvas = root.querySelector('canvas');
        var r = canvas.getBoundingClientRect(), before = root.mlView.state();
        var at = function (type, dx) { return new MouseEvent(type, {clientX: r.left + 200 + dx, clientY: r.top + 150,
                                                                    bubbles: true}); };
        canvas.dispatchEvent(at('mousedown', 0)); canvas.dispatchEvent(at('mousemove', 80));
        window.dispatchEvent(at('mouseup', 80));
        return [before.yaw, root.mlView.state().yaw];
    """)
    assert rotated[1] != pytest.approx(rotated[0])
    drawn = browser.script("""
        var root = document.getElementById('rfm-3d'), before = root.mlView.drawn();
        root.querySelector('.ml-legend input').click();
        return [before, root.mlView.drawn()];
    """)
    assert drawn[0] == len(customers) and 0 < drawn[1] < drawn[0]

    png = browser.screenshot(ARTIFACTS / "rfm_views.png")
    assert png.startswith(PNG_MAGIC)


def test_ml_admin_change_lists_fit_a_laptop_screen(live_server, browser, segmented_shop):
    """At 1280 px with the admin's navigation sidebar open, no ML change list scrolls sideways."""
    InventoryAlert.objects.create(product_id="p1", product_name="Pantalone Premium Blanco Oversize",
                                  alert_type="reorder_now", current_stock=2, recommended_stock=30, urgency_level=5)
    browser._session("POST", "/window/rect", {"width": 1280, "height": 900})
    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.type("#id_username", "staff")
    browser.type("#id_password", "pw-staff-123")
    browser.click("input[type=submit]")
    # the login page has #content-main too: wait for the logged-in index, or the next navigation can race the
    # login POST and land on the login form (seen once in CI on PostgreSQL)
    browser.wait_for("return location.pathname === '/admin/' && document.querySelector('#user-tools') !== null")
    from django.contrib.auth import get_user_model

    from ml_predictions.models import CustomerSegmentAssignment, MLModel, MLTrainingLog

    staff = get_user_model().objects.get(username="staff")
    staff.is_superuser = True  # view permissions on every ML table
    staff.save()
    assert MLModel.objects.exists() and MLTrainingLog.objects.exists() and CustomerSegmentAssignment.objects.exists()
    for table in ("mlmodel", "mltraininglog", "inventoryalert", "customersegmentassignment"):
        browser.get(f"{live_server.url}/admin/ml_predictions/{table}/")
        widths = browser.wait_for("var t = document.querySelector('#result_list'), r = document.querySelector('.results');"
                                  "return t && r && [t.scrollWidth, r.clientWidth];")
        assert widths[0] <= widths[1], (table, widths)
