"""The progress bar of `catalog bench run` on a terminal: it redraws on events only. A timer thread (rich's default,
10 wake-ups a second) would take a core from the model's threads in the middle of timed iterations."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest

from bench.spec import BenchSpec
from catalog.cli import bench as bench_cli


def test_the_bar_runs_no_timer_thread_and_counts_every_result(monkeypatch: pytest.MonkeyPatch) -> None:
    import rich.console

    terminal = io.StringIO()
    real_console = rich.console.Console

    def console(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("stderr", None)
        return real_console(file=terminal, force_terminal=True, width=100)

    monkeypatch.setattr(rich.console, "Console", console)
    seen: dict[str, Any] = {}

    def fake_run(spec: BenchSpec, *, db: Any, on_event: Any, worker_process: Any) -> str:
        seen["threads"] = [t for t in threading.enumerate() if t is not threading.current_thread()]
        on_event("model", model="m", index=0, total=1)
        on_event("loaded", model="m", load_time_s=0.1)
        for _ in spec.shapes:
            on_event("result", result=None)
        seen["screen"] = terminal.getvalue()
        return "outcome"

    monkeypatch.setattr("bench.runner.run_benchmark", fake_run)
    before = set(threading.enumerate())
    spec = BenchSpec(models=("m",), batch_sizes=(1, 8), seq_lens=(128,))
    assert bench_cli._run_with_progress(spec, db=None) == "outcome"
    started = [t for t in seen["threads"] if t not in before]
    assert started == [], f"the progress bar started threads: {started}"
    assert "m measuring" in seen["screen"] and "2/2" in seen["screen"]  # drawn on the events themselves
