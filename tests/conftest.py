"""Shared fixtures. Every test runs with its own data dir, database and caches, and no network."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MINI_TAXONOMY = FIXTURES / "mini_catalog.yaml"
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_shared(relative: str) -> Path:
    """Path under ../shared; skip with a reason where it is absent, but fail in CI, which must have it."""
    path = SHARED / relative
    if not path.exists():
        message = f"../shared/{relative} is not available on this machine"
        if IN_CI:
            pytest.fail(message + " (CI must provide it)")
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "catalog-home"
    home.mkdir()
    monkeypatch.setenv("CATALOG_DATA_DIR", str(home))
    for name in (
        "CATALOG_DB_URL",
        "CATALOG_TAXONOMY",
        "CATALOG_DEBUG",
        "CATALOG_LANG",
        "HF_TOKEN",
        "HF_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    # No test may reach the real Hub: the default endpoint is a closed local port. (HF_HUB_OFFLINE is not set
    # here because huggingface_hub freezes it at import time; tests that need it patch both env and constants.)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("COLUMNS", "160")
    # A fresh data dir would measure this machine (~1-2 s) in every test that estimates; the tests of that first
    # use (tests/test_calibrate_first_use.py) delete this.
    monkeypatch.setenv("CATALOG_CALIBRATE", "never")
    return home


@pytest.fixture
def mini_taxonomy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, editable copy of the small test taxonomy, selected through CATALOG_TAXONOMY."""
    path = tmp_path / "catalog.yaml"
    shutil.copy(MINI_TAXONOMY, path)
    monkeypatch.setenv("CATALOG_TAXONOMY", str(path))
    return path


def _postgres_admin_url() -> str | None:
    return os.environ.get("CATALOG_TEST_POSTGRES_URL")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = _postgres_admin_url()
    if not admin:
        message = "CATALOG_TEST_POSTGRES_URL is not set (a PostgreSQL server URL; .ci/run starts one)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"catalog_test_{uuid.uuid4().hex[:12]}"
    url = make_url(admin)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each DB test runs on SQLite and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("postgres_url"))


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> object:
        import json

        return json.loads(self.out)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `catalog ARGS` in-process through main(), as the console script does."""
    from catalog.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
