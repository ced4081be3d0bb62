"""Smoke test of the running containers over HTTP: health, a JWT, a queued training finished by the
worker container, a prediction. Standard library only, so it runs with any python3 on the host."""
from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request

BASE = sys.argv[1].rstrip("/")
USER, PASSWORD = sys.argv[2], sys.argv[3]


def call(method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(BASE + path, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def main() -> None:
    for _ in range(60):
        try:
            status, body = call("GET", "/health")
            if status == 200:
                break
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(2)
    else:
        sys.exit("web container never answered /health")
    print("health:", status, body.get("status"))
    status, body = call("POST", "/api/auth/token/", {"username": USER, "password": PASSWORD})
    assert status == 200, (status, body)
    token = body["access"]
    status, body = call("GET", "/api/ml/models/")
    assert status == 401, ("anonymous list", status)
    status, body = call("POST", "/api/ml/train-sales-forecast/", {"model_type": "linear", "level": "total"}, token)
    assert status == 202, ("training not queued", status, body)
    log_id = body["training_log_id"]
    print("training queued:", log_id)
    deadline = time.time() + 300
    while time.time() < deadline:
        status, log = call("GET", f"/api/ml/training-logs/{log_id}/", token=token)
        assert status == 200, (status, log)
        if log["status"] in ("succeeded", "failed"):
            break
        time.sleep(2)
    assert log["status"] == "succeeded", ("the worker container did not finish the training", log)
    print("training finished by the worker:", log["status"], f"{log.get('duration_seconds')} s")
    status, body = call("POST", "/api/ml/predict-sales/", {"days_ahead": 7}, token)
    assert status == 200 and len(body["predictions"]) == 7, (status, body)
    print("prediction:", body["summary"])
    print("container smoke test passed")


if __name__ == "__main__":
    main()
