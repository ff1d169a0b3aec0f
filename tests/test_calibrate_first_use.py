"""Estimates rest on this machine's measured peak: the first command that needs one measures it (numpy, ~1-2 s, a
progress line on stderr) and caches it; later commands read the cache; CATALOG_CALIBRATE=never opts out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog.hardware import CALIBRATION_FILE


@pytest.fixture
def first_use(monkeypatch: pytest.MonkeyPatch, mini_taxonomy: Path) -> None:
    monkeypatch.delenv("CATALOG_CALIBRATE")


def _explain(run_cli, home: Path) -> dict:  # type: ignore[no-untyped-def]
    result = run_cli("recommend", "--task", "ner", "--explain", "dslim/bert-base-NER", "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_recommend_measures_the_machine_once(first_use: None, run_cli, isolated_environment: Path) -> None:  # type: ignore[no-untyped-def]
    first = run_cli("recommend", "--task", "ner")
    assert first.code == 0, first.err
    assert "calibrating this machine once" in first.err
    assert (isolated_environment / CALIBRATION_FILE).is_file()
    second = run_cli("recommend", "--task", "ner")
    assert second.code == 0 and "calibrating" not in second.err
    latency = next(c for c in _explain(run_cli, isolated_environment)["components"] if c["name"] == "latency")
    assert latency["provenance"].startswith("estimated: cost model") and "assumed" not in latency["provenance"]


def test_never_keeps_the_assumed_figures_and_says_so(mini_taxonomy: Path, run_cli, isolated_environment: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("recommend", "--task", "ner")
    assert result.code == 0 and "calibrating" not in result.err
    assert not (isolated_environment / CALIBRATION_FILE).exists()
    latency = next(c for c in _explain(run_cli, isolated_environment)["components"] if c["name"] == "latency")
    assert "assumed" in latency["provenance"] and "catalog hardware --calibrate" in latency["provenance"]


def test_estimate_measures_on_first_use_too(first_use: None, run_cli, isolated_environment: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("estimate", "--model", "random:bert,num_hidden_layers=2", "--format", "json")
    assert result.code == 0, result.err
    assert "calibrating this machine once" in result.err
    machine = json.loads(result.out)["machine"]
    assert machine["measured"] is True and machine["library"] == "numpy"


def test_without_numpy_it_says_so(first_use: None, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from catalog import hardware

    def no_numpy(*args: object, **kwargs: object) -> None:
        raise ModuleNotFoundError("No module named 'numpy'", name="numpy")

    monkeypatch.setattr(hardware, "calibrate", no_numpy)
    result = run_cli("recommend", "--task", "ner")
    assert result.code == 0
    assert "could not measure this machine: numpy is not installed (pip install numpy)" in result.err
