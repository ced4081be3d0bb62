"""A tiny W3C WebDriver client over the standard library, for the headless-Chromium tests.

chromedriver speaks plain HTTP + JSON, so a few dozen lines replace selenium (not a dependency of the
project): start a session, navigate, find elements, type, click, run a script, take a screenshot.
"""
from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"


def find_chromium() -> tuple[str, str] | None:
    """(browser, driver) executables, or None when headless Chromium is not installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WebDriverError(RuntimeError):
    pass


class Browser:
    def __init__(self, browser: str, driver: str, log_path: Path, width: int = 1400, height: int = 1800):
        self.port = _free_port()
        self._log = open(log_path, "wb")  # noqa: SIM115 — closed in quit()
        self.process = subprocess.Popen([driver, f"--port={self.port}"], stdout=self._log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if self._call("GET", "/status").get("ready"):
                    break
            except (OSError, WebDriverError):
                pass
            if time.monotonic() > deadline:
                self.quit()
                raise WebDriverError("chromedriver did not start")
            time.sleep(0.1)
        options = {"binary": browser, "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                                               "--disable-dev-shm-usage", f"--window-size={width},{height}"]}
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method: str, path: str, payload: dict | None = None) -> Any:
        data = json.dumps(payload if payload is not None else {}).encode() if method == "POST" else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                body = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise WebDriverError(exc.read().decode(errors="replace")[:1000]) from exc
        return body.get("value", body)

    def _session(self, method: str, path: str, payload: dict | None = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", payload)

    def get(self, url: str) -> None:
        self._session("POST", "/url", {"url": url})

    @property
    def current_url(self) -> str:
        return self._session("GET", "/url")

    def find(self, css: str) -> str:
        return self._session("POST", "/element", {"using": "css selector", "value": css})[ELEMENT_KEY]

    def type(self, css: str, text: str) -> None:
        self._session("POST", f"/element/{self.find(css)}/value", {"text": text})

    def click(self, css: str) -> None:
        self._session("POST", f"/element/{self.find(css)}/click")

    def script(self, source: str, *args: Any) -> Any:
        return self._session("POST", "/execute/sync", {"script": source, "args": list(args)})

    def wait_for(self, source: str, timeout: float = 30.0) -> Any:
        """Run `source` (a script body that returns a value) until the value is truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.script(source)
            if value:
                return value
            if time.monotonic() > deadline:
                raise WebDriverError(f"timed out waiting for: {source}")
            time.sleep(0.1)

    def screenshot(self, path: Path) -> bytes:
        png = base64.b64decode(self._session("GET", "/screenshot"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return png

    def quit(self) -> None:
        try:
            if getattr(self, "session", None):
                self._session("DELETE", "")
        except (OSError, WebDriverError):
            pass
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()
