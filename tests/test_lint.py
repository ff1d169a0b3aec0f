"""The code stays as clean as it is now: ruff (lint and format) over the repository, mypy over the packages (strict
where pyproject.toml says so). Both tools come with the dev extra, so CI runs these."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("args", [("ruff", "check", "."), ("ruff", "format", "--check", ".")], ids=["lint", "format"])
def test_ruff(args: tuple[str, ...]) -> None:
    pytest.importorskip("ruff", reason="ruff comes with the dev extra: pip install -e '.[dev]'")
    done = _run(*args)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_on_the_packages() -> None:
    pytest.importorskip("mypy", reason="mypy comes with the dev extra: pip install -e '.[dev]'")
    done = _run("mypy", "catalog", "bench")
    assert done.returncode == 0, done.stdout + done.stderr
