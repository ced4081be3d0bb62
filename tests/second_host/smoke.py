"""Smoke test of the plugin installed from its wheel into the second host, over HTTP against a real
server process and a real `db_worker` (started by run.sh). Standard library only; exits non-zero on
the first failed check and prints one line per check."""
from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request

BASE = sys.argv[1].rstrip("/")
DEADLINE_SECONDS = 300


def call(method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    status, body, _headers = call_with_headers(method, path, body, token)
    return status, body


def call_with_headers(method: str, path: str, body: dict | None = None,
                      token: str | None = None) -> tuple[int, dict, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}"), dict(response.headers)
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw or b"{}"), dict(error.headers)
        except json.JSONDecodeError:
            return error.code, {"raw": raw[:300].decode(errors="replace")}, dict(error.headers)


def check(name: str, condition: bool, detail: object = "") -> None:
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f": {detail}"), flush=True)
    if not condition:
        sys.exit(1)


def token(username: str, password: str) -> str:
    status, body = call("POST", "/api/token/", {"username": username, "password": password})
    check(f"JWT for {username}", status == 200 and "access" in body, (status, body))
    return body["access"]


def token_guessing_is_throttled() -> None:
    """Last, since it spends the client IP's token budget (THROTTLE_RATES token_ip, 10/min by default)."""
    for attempt in range(1, 13):
        status, body, headers = call_with_headers("POST", "/api/token/", {"username": "boss", "password": f"guess{attempt}"})
        if status != 401:
            break
    check("wrong passwords are throttled: 429 in the error shape with Retry-After",
          status == 429 and error_shape(body, "throttled") and int(headers.get("Retry-After", 0)) > 0,
          (attempt, status, body, headers.get("Retry-After")))
    print(f"     (429 at wrong password {attempt})")


def error_shape(body: dict, code: str) -> bool:
    return body.get("success") is False and body.get("error", {}).get("code") == code


def wait_for(log_id: str, boss: str) -> dict:
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE_SECONDS:
        status, log = call("GET", f"/api/ml/training-logs/{log_id}/", token=boss)
        if log.get("status") in {"succeeded", "failed"}:
            return log
        time.sleep(2)
    check(f"training {log_id} finished within {DEADLINE_SECONDS} s", False, log)
    return {}


def main() -> None:
    boss, clerk = token("boss", "boss-pw-123"), token("clerk", "clerk-pw-123")
    status, pair = call("POST", "/api/token/", {"username": "boss", "password": "boss-pw-123"})
    status, body = call("POST", "/api/token/refresh/", {"refresh": pair.get("refresh", "")})
    check("the refresh view gives a new access token", status == 200 and "access" in body, (status, body))

    status, body = call("GET", "/api/ml/models/", token=boss)
    check("staff JWT lists models (200, paginated)", status == 200 and body.get("results") == [], (status, body))
    status, body = call("GET", "/api/ml/models/")
    check("anonymous is 401 in the documented error shape", status == 401 and error_shape(body, "not_authenticated"),
          (status, body))
    status, body = call("GET", "/api/ml/models/", token=clerk)
    check("non-staff JWT is 403", status == 403 and error_shape(body, "permission_denied"), (status, body))
    status, body = call("POST", "/api/ml/train-customer-segmentation/", {"n_clusters": "many"}, token=boss)
    check("bad parameter is 400 naming the field", status == 400 and "n_clusters" in body.get("error", {}).get(
        "fields", {}), (status, body))

    logs = {}
    for path, params in (("/api/ml/train-customer-segmentation/", {"n_clusters": 3}),
                         ("/api/ml/train-product-recommendation/", {})):
        status, body = call("POST", path, params, token=boss)
        check(f"{path} is queued (202)", status == 202 and body.get("training_log_id"), (status, body))
        logs[path] = body["training_log_id"]
    for path, log_id in logs.items():
        log = wait_for(log_id, boss)
        check(f"{path} finished by db_worker", log.get("status") == "succeeded", log)

    status, body = call("GET", "/api/ml/models/?model_type=customer_segmentation", token=boss)
    check("?model_type= filters", status == 200 and body["count"] == 1
          and body["results"][0]["model_type"] == "customer_segmentation", body)
    status, body = call("GET", "/api/ml/models/?page_size=1", token=boss)
    check("?page_size= paginates", status == 200 and body["count"] == 2 and len(body["results"]) == 1
          and body["next"], body)

    status, body = call("GET", "/api/ml/customer-segment/1/", token=boss)
    check("a customer's segment (prediction)", status == 200 and body.get("segment_type"), (status, body))
    status, body = call("GET", "/api/ml/product-recommendations/1/?top_n=3", token=boss)
    check("a product's recommendations (prediction)", status == 200 and len(body.get("recommendations", [])) == 3,
          (status, body))
    status, body = call("GET", "/api/ml/customer-segment/999999/", token=boss)
    check("unknown customer is 404 in the documented shape", status == 404 and body.get("success") is False,
          (status, body))
    with urllib.request.urlopen(BASE + "/static/ml_predictions/rfm_views.js", timeout=30) as response:
        check("the dashboard's script is served from the installed package", response.status == 200
              and b"mlView" in response.read())
    status, body = call("GET", "/api/ml/dashboard/segment-points/?limit=50", token=boss)
    check("segment points for the interactive views", status == 200 and 0 < len(body.get("points", [])) <= 50,
          (status, body))
    token_guessing_is_throttled()
    print("second host: all checks passed")


if __name__ == "__main__":
    main()
