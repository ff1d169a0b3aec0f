"""The HTML report in a real browser: headless Chromium (Debian's package) driven over the DevTools protocol with
websocket-client. Every image decodes, the console stays clean, no script runs, and a full-page screenshot is taken
(set CATALOG_REPORT_SCREENSHOT=path.png to keep it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bench.report import build_report
from catalog.db.engine import Database
from tests.bench.helpers import require
from tests.conftest import IN_CI

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions", "--window-size=1280,2000",
)  # fmt: skip


def _chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is absent (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(message + "; CI must install it")
        pytest.skip(message)
    return CHROMIUM


class DevTools:
    """Just enough of the Chrome DevTools protocol: numbered commands, events collected while waiting."""

    def __init__(self, url: str) -> None:
        websocket = require("websocket")
        # No Origin header: Chromium refuses DevTools connections from origins it was not told to allow.
        self.socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.events: list[dict[str, Any]] = []
        self.next_id = 0

    def call(self, method: str, wait_s: float = 120.0, **params: Any) -> dict[str, Any]:
        # Each command sets its own timeout: wait_for and drain leave short ones on the socket, and a full-page
        # screenshot can take seconds on a loaded machine (CI once timed out on one after drain's 0.5 s).
        self.next_id += 1
        self.socket.settimeout(wait_s)
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            assert time.monotonic() < deadline, f"no {event} within {timeout} s"
            self.socket.settimeout(max(0.1, deadline - time.monotonic()))
            self.events.append(json.loads(self.socket.recv()))

    def drain(self, seconds: float) -> None:
        import websocket

        self.socket.settimeout(seconds)
        try:
            while True:
                self.events.append(json.loads(self.socket.recv()))
        except websocket.WebSocketTimeoutException:
            pass

    def close(self) -> None:
        self.socket.close()


def _devtools_port(profile: Path, process: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().split()[0])
        assert process.poll() is None, f"chromium exited with status {process.returncode}"
        time.sleep(0.05)
    raise AssertionError(f"chromium wrote no DevToolsActivePort within {timeout} s")


def _problems(events: list[dict[str, Any]]) -> list[str]:
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert", "warning"}:
            found.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
        elif method == "Runtime.exceptionThrown":
            found.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in {"error", "warning"}:
            found.append(
                f"log {params['entry']['level']}: {params['entry'].get('text')} {params['entry'].get('url', '')}"
            )
        elif method == "Page.javascriptDialogOpening":
            found.append(f"dialog opened: {params.get('message')}")
    return found


def test_report_in_headless_chromium(report_db: Database, tmp_path: Path) -> None:
    chromium = _chromium()
    require("websocket")
    page = tmp_path / "report.html"
    page.write_text(build_report(report_db).to_html(), encoding="utf-8")
    profile = tmp_path / "chromium-profile"
    process = subprocess.Popen(
        [str(chromium), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port = _devtools_port(profile, process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            targets = json.load(response)
        target = next(t for t in targets if t.get("type") == "page")
        devtools = DevTools(target["webSocketDebuggerUrl"])
        try:
            for domain in ("Page", "Runtime", "Log"):
                devtools.call(f"{domain}.enable")
            devtools.call("Page.navigate", url=page.as_uri())
            devtools.wait_for("Page.loadEventFired")
            devtools.drain(0.5)

            state = devtools.call(
                "Runtime.evaluate",
                returnByValue=True,
                expression="""JSON.stringify({
                    images: Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete,
                                                                    width: i.naturalWidth, height: i.naturalHeight})),
                    scripts: document.scripts.length,
                    title: document.title,
                    modelCells: Array.from(document.querySelectorAll('td.model')).map(c => c.textContent.trim()),
                })""",
            )
            facts = json.loads(state["result"]["value"])
            assert len(facts["images"]) == 6, facts["images"]
            for image in facts["images"]:
                assert image["complete"] and image["width"] > 0 and image["height"] > 0, image
            assert facts["scripts"] == 0
            assert facts["title"] == "Benchmark report"
            assert "<script>alert(1)</script>" in facts["modelCells"]  # shown as text, not run

            metrics = devtools.call("Page.getLayoutMetrics")
            height = int(metrics["cssContentSize"]["height"])
            assert height > 2000  # tables and six plots
            devtools.call("Emulation.setDeviceMetricsOverride", width=1280, height=min(height, 16000),
                          deviceScaleFactor=1, mobile=False)  # fmt: skip
            shot = devtools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            import base64

            png = base64.b64decode(shot["data"])
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
            (tmp_path / "report.png").write_bytes(png)
            if os.environ.get("CATALOG_REPORT_SCREENSHOT"):
                shutil.copy(tmp_path / "report.png", os.environ["CATALOG_REPORT_SCREENSHOT"])
            devtools.drain(0.2)
            assert _problems(devtools.events) == []
        finally:
            devtools.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
