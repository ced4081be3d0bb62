"""Background trainings on real queues: the database backend with `db_worker`, and RQ on Redis.

The rest of the suite uses the immediate backend; here the API must answer 202 + status_url, a worker
must pick the task up, and the training log must show progress and the end state. The subprocess tests
need a database another process can open: on PostgreSQL they use the test database (CI runs the suite
on both); on SQLite the in-memory test database is out of reach, so one test migrates its own SQLite file
like the demo (it runs under both suites) and the others skip there.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

from ml_predictions.models import MLModel, MLTrainingLog
from ml_predictions.training import runner as training
from ml_predictions.training import trainers
from ml_predictions.training.registry import register_model
from ml_predictions.training.tasks import train_model_task
from tests.operations_fakes import RELEASE_ENV

REPO = Path(__file__).resolve().parents[2]
DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
RETRAIN = "/api/ml/retrain/"


def poll(client, url, until, timeout=60.0):
    """GET `url` until `until(body)` holds; return the body (fails the test after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if until(body):
            return body
        time.sleep(0.1)
    raise AssertionError(f"condition not reached within {timeout} s; last body: {body}")


@pytest.fixture
def fake_inventory(monkeypatch):
    monkeypatch.setitem(trainers._REGISTERED, "inventory", "tests.operations_fakes.quick_trainer")


# --- database backend, worker loop in this process (SQLite and PostgreSQL) -------------------------


@pytest.mark.django_db(transaction=True)
def test_api_answers_202_and_db_worker_runs_the_training(settings, staff_client, fake_inventory):
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = DB_TASKS
    previous = register_model(model_type="inventory", artifact={"v": 1}, algorithm="fake")

    res = staff_client.post(RETRAIN, {"model_type": "inventory"}, format="json")
    assert res.status_code == 202, res.content
    body = res.json()
    log_id = body["training_log_id"]
    assert body["status"] == "queued"
    assert body["status_url"].endswith(reverse("ml_predictions:traininglog-detail", args=[log_id]))
    # queued, not run: the previous version is still the active one
    task_row = DBTaskResult.objects.get()
    assert task_row.status == "READY" and task_row.args_kwargs["args"] == [log_id, "champion"]  # a retrain is a challenge
    assert MLTrainingLog.objects.get(pk=log_id).task_id == str(task_row.id)
    assert MLModel.objects.get(is_active=True).pk == previous.pk

    Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
           max_tasks=None, worker_id="pytest", excluded_queue_names=[]).run()

    log = staff_client.get(body["status_url"]).json()
    assert log["status"] == "succeeded" and log["progress"] == 100, log
    assert log["result"]["extra_key"] == "from trainer" and log["result"]["version"] == 2
    active = MLModel.objects.get(is_active=True)
    assert str(active.pk) == log["ml_model"] and active.version == 2
    task_row.refresh_from_db()
    assert task_row.status == "SUCCESSFUL"
    assert task_row.return_value["status"] == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_second_training_is_refused_while_one_is_queued(settings, staff_client, fake_inventory):
    settings.TASKS = DB_TASKS
    first = staff_client.post(RETRAIN, {"model_type": "inventory"}, format="json")
    assert first.status_code == 202
    second = staff_client.post(RETRAIN, {"model_type": "inventory"}, format="json")
    assert second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "training_in_progress"
    assert error["details"]["training_log_id"] == first.json()["training_log_id"]
    assert MLTrainingLog.objects.count() == 1


# --- a real `manage.py db_worker` process (PostgreSQL) --------------------------------------------


def _subprocess_db_url() -> str:
    if connection.vendor != "postgresql":
        pytest.skip("the SQLite test database lives in this process's memory; a worker subprocess cannot "
                    "open it. This test runs on PostgreSQL (DATABASE_URL=postgres://…, as CI does).")
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


WORKER_CODE = """
import django
django.setup()
from ml_predictions.training import runner as training
from ml_predictions.training import trainers
trainers._REGISTERED["inventory"] = "tests.operations_fakes.gated_trainer"
from django.core.management import call_command
call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0.1", "--queue-name", "default")
"""


@pytest.fixture
def worker_process(settings, tmp_path, monkeypatch):
    """Start `db_worker` in a subprocess against the test database; yields (start, release_file)."""
    monkeypatch.setitem(trainers._REGISTERED, "inventory", "tests.operations_fakes.gated_trainer")
    settings.TASKS = DB_TASKS
    release = tmp_path / "release"
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "backend_django.settings",
            "DATABASE_URL": _subprocess_db_url(),
            "TASKS_BACKEND": "database",
            "ML_MODEL_DIR": settings.ML_PREDICTIONS["MODEL_DIR"],
            "LOG_DIR": str(tmp_path / "logs"),
            RELEASE_ENV: str(release),
        }
        proc = subprocess.Popen([sys.executable, "-c", WORKER_CODE], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    yield start, release
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()


@pytest.mark.django_db(transaction=True)
def test_db_worker_process_picks_up_training_and_reports_progress(staff_client, worker_process):
    start, release = worker_process
    previous = register_model(model_type="inventory", artifact={"v": 1}, algorithm="fake")
    res = staff_client.post(RETRAIN, {"model_type": "inventory"}, format="json")
    assert res.status_code == 202
    status_url = res.json()["status_url"]
    proc = start()

    running = poll(staff_client, status_url, lambda b: b["status"] == "running" and b["progress"] == 30)
    assert running["message"] == "Waiting for the test"
    assert MLModel.objects.get(is_active=True).pk == previous.pk  # nothing switches mid-training

    release.touch()
    output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, output
    done = staff_client.get(status_url).json()
    assert done["status"] == "succeeded" and done["progress"] == 100, (done, output)
    active = MLModel.objects.get(is_active=True)
    assert active.version == 2 and active.algorithm == "fake-gated"


@pytest.mark.django_db(transaction=True)
def test_killed_worker_keeps_previous_version_and_log_is_failed(settings, staff_client, worker_process):
    start, _release = worker_process
    previous = register_model(model_type="inventory", artifact={"v": 1}, algorithm="fake")
    res = staff_client.post(RETRAIN, {"model_type": "inventory"}, format="json")
    status_url = res.json()["status_url"]
    proc = start()
    poll(staff_client, status_url, lambda b: b["status"] == "running" and b["progress"] == 30)

    proc.send_signal(signal.SIGKILL)  # the machine dies: no handler, no cleanup
    proc.wait(timeout=30)
    assert staff_client.get(status_url).json()["status"] == "running"  # nobody is left to say otherwise
    assert MLModel.objects.get(is_active=True).pk == previous.pk
    assert MLModel.objects.count() == 1

    # STALE_TRAINING_MINUTES later (0 here), the next look at the system frees the slot
    settings.ML_PREDICTIONS = {**settings.ML_PREDICTIONS, "STALE_TRAINING_MINUTES": 0}
    assert staff_client.get("/api/ml/dashboard-summary/").status_code == 200
    log = staff_client.get(status_url).json()
    assert log["status"] == "failed" and "worker" in log["error"] and log["finished_at"]
    assert MLModel.objects.get(is_active=True).pk == previous.pk
    # and a new training may start
    assert staff_client.post(RETRAIN, {"model_type": "inventory"}, format="json").status_code == 202


# --- the demo's configuration: a SQLite file, `db_worker`, the web process (both suites) ----------------

WEB_CODE = """
import json, time
from pathlib import Path
import django
django.setup()
from ml_predictions.training import runner as training
from ml_predictions.training import trainers
trainers._REGISTERED["inventory"] = "tests.operations_fakes.gated_trainer"
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from ml_predictions.training.registry import register_model
register_model(model_type="inventory", artifact={"v": 1}, algorithm="fake")
client = APIClient()
client.force_authenticate(get_user_model().objects.create_user("ops", "o@x.io", "pw", is_staff=True))
res = client.post("/api/ml/retrain/", {"model_type": "inventory"}, format="json")
out = {"post_status": res.status_code, "post": res.json(), "seen": []}
url = res.json()["status_url"].replace("http://testserver", "")
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    log = client.get(url).json()
    state = [log["status"], log["progress"], log["message"]]
    if not out["seen"] or out["seen"][-1] != state:
        out["seen"].append(state)
    if log["progress"] == 30:
        Path(__import__("os").environ["OPS_TEST_RELEASE_FILE"]).touch()
    if log["status"] in ("succeeded", "failed"):
        break
    time.sleep(0.05)
out["active_version"] = client.get("/api/ml/models/?is_active=true").json()["results"][0]["version"]
print(json.dumps(out))
"""


def test_db_worker_on_a_sqlite_file_like_the_demo(tmp_path, settings):
    """`make demo` runs SQLite (a file, WAL) + runserver + one db_worker: the same three parts here."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backend_django.settings",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "TASKS_BACKEND": "database",
           "ML_MODEL_DIR": str(tmp_path / "models"), "LOG_DIR": str(tmp_path), RELEASE_ENV: str(tmp_path / "go")}
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    worker = subprocess.Popen([sys.executable, "-c", WORKER_CODE.replace('"--batch", ', '"--max-tasks", "1", ')],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        web = subprocess.run([sys.executable, "-c", WEB_CODE], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=120)
        assert web.returncode == 0, web.stderr[-2000:]
        worker_output = worker.communicate(timeout=60)[0].decode()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)
    import json

    result = json.loads(web.stdout.strip().splitlines()[-1])
    assert result["post_status"] == 202 and result["post"]["status"] == "queued"
    seen = result["seen"]
    assert seen[0][0] in ("queued", "running")  # the worker may be quicker than the first poll
    assert ["running", 30, "Waiting for the test"] in seen
    assert seen[-1] == ["succeeded", 100, "Done"], (seen, worker_output)
    assert result["active_version"] == 2
    assert worker.returncode == 0, worker_output


# --- stale detection without a subprocess (SQLite and PostgreSQL) ---------------------------------


@pytest.mark.django_db
def test_training_declared_stale_while_running_does_not_register(monkeypatch):
    """A slow trainer outlived STALE_TRAINING_MINUTES: its log was failed and a newer training may own
    the slot, so when it finally returns its model must be dropped (never two writers)."""

    def slow_then_stale(params, progress):
        progress(50, "Fitting")
        MLTrainingLog.objects.filter(status="running").update(status="failed", error=training.STALE_ERROR)
        return training.TrainingOutcome(artifact={}, algorithm="late", metrics={})

    monkeypatch.setattr(training, "resolve_trainer", lambda model_type: slow_then_stale)
    previous = register_model(model_type="inventory", artifact={"v": 1}, algorithm="fake")
    log = training.train_now("inventory", {})
    assert log.status == "failed" and log.error == training.STALE_ERROR
    assert list(MLModel.objects.values_list("pk", flat=True)) == [previous.pk]


# --- RQ on Redis --------------------------------------------------------------------------------


@pytest.fixture
def redis_url():
    import redis

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis does not answer at {url} ({exc}); start redis-server to run the RQ path")
    return url


def _burst(queue) -> bool:
    """Run what `queue` holds in this process (SimpleWorker: no fork, so the job shares the test database
    connection), then return. The worker's pub/sub listener (remote stop commands, useless in a burst) is
    left out: tearing it down waited on its 60 s poll, up to a minute per test."""
    from django_tasks_rq import Job
    from rq import SimpleWorker

    class BurstWorker(SimpleWorker):
        def subscribe(self) -> None:
            pass

    return BurstWorker([queue], connection=queue.connection, job_class=Job).work(burst=True)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_rq_worker_runs_training_enqueued_over_the_api(settings, staff_client, fake_inventory, redis_url):
    import django_rq
    from django_tasks_rq import Job

    # the project's "default" queue, on the Redis database reserved for tests (REDIS_URL in CI)
    settings.RQ_QUEUES = {"default": {"URL": redis_url}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    queue = django_rq.get_queue("default", job_class=Job)
    queue.empty()
    res = staff_client.post(RETRAIN, {"model_type": "inventory"}, format="json")
    assert res.status_code == 202, res.content
    body = res.json()
    assert queue.count == 1
    assert staff_client.get(body["status_url"]).json()["status"] == "queued"

    assert _burst(queue) is True

    log = staff_client.get(body["status_url"]).json()
    assert log["status"] == "succeeded" and log["progress"] == 100, log
    assert MLModel.objects.get(is_active=True).version == 1
    result = train_model_task.get_result(log["task_id"])
    assert result.status == "SUCCESSFUL" and result.return_value["status"] == "succeeded"
    queue.empty()


RQ_WORKER_CODE = """
import django
django.setup()
from ml_predictions.training import runner as training
from ml_predictions.training import trainers
trainers._REGISTERED["inventory"] = "tests.operations_fakes.quick_trainer"
from django.core.management import call_command
call_command("rqworker", "default", "--burst", "--job-class", "django_tasks_rq.Job")
"""


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_rqworker_process_runs_training(settings, staff_client, fake_inventory, redis_url, tmp_path):
    """The documented deployment command (`manage.py rqworker … --job-class django_tasks_rq.Job`), forking."""
    import django_rq
    from django_tasks_rq import Job

    db_url = _subprocess_db_url()
    settings.RQ_QUEUES = {"default": {"URL": redis_url}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    django_rq.get_queue("default", job_class=Job).empty()
    res = staff_client.post(RETRAIN, {"model_type": "inventory"}, format="json")
    assert res.status_code == 202
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backend_django.settings", "DATABASE_URL": db_url,
           "TASKS_BACKEND": "rq", "REDIS_URL": redis_url, "ML_MODEL_DIR": settings.ML_PREDICTIONS["MODEL_DIR"],
           "LOG_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", RQ_WORKER_CODE], cwd=REPO, env=env, capture_output=True,
                          timeout=120, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    log = staff_client.get(res.json()["status_url"]).json()
    assert log["status"] == "succeeded" and log["progress"] == 100, (log, done.stderr[-2000:])
    assert MLModel.objects.get(is_active=True).algorithm == "fake"


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_enqueue_waits_for_the_request_transaction(settings, staff_client, fake_inventory, redis_url):
    """Under ATOMIC_REQUESTS a Redis worker must not see the task before the log row is committed."""
    import django_rq
    from django.db import transaction
    from django_tasks_rq import Job

    settings.RQ_QUEUES = {"default": {"URL": redis_url}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    queue = django_rq.get_queue("default", job_class=Job)
    queue.empty()
    with transaction.atomic():  # what ATOMIC_REQUESTS wraps around the view
        res = staff_client.post(RETRAIN, {"model_type": "inventory"}, format="json")
        assert res.status_code == 202
        assert queue.count == 0
    assert queue.count == 1
    log = MLTrainingLog.objects.get(pk=res.json()["training_log_id"])
    assert log.task_id and log.status == "queued"
    _burst(queue)
    log.refresh_from_db()
    assert log.status == "succeeded"
