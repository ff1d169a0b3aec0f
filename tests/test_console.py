"""The program's entry point starts with the cyclic collector off; commands that run long turn it back on."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog.cli import cli


@pytest.fixture
def collector_off() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was:
            gc.enable()


@pytest.mark.parametrize("command", [["hardware", "--format", "json"], ["evidence", "sources", "--format", "json"]])
def test_long_running_commands_turn_the_collector_back_on(
    collector_off: None, command: list[str], tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'c.db'}", *command])
    assert result.exit_code == 0, result.output
    assert gc.isenabled()


def test_short_commands_leave_it_off(collector_off: None) -> None:
    result = CliRunner().invoke(cli, ["tasks", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert not gc.isenabled()


def test_under_tests_the_collector_is_left_as_it_was() -> None:
    assert gc.isenabled()
    result = CliRunner().invoke(cli, ["tasks", "--format", "json"])
    assert result.exit_code == 0
    assert gc.isenabled()


@pytest.mark.parametrize(("command", "after"), [("tasks", False), ("hardware", True)])
def test_the_program_starts_with_it_off(tmp_path: Path, command: str, after: bool) -> None:
    probe = (
        f"import gc, sys; sys.argv = ['catalog', '{command}', '--format', 'json']\n"
        "from catalog.console import run\n"
        "run()\n"
        "print('collector on:', gc.isenabled(), file=sys.stderr)\n"
    )
    env = {**os.environ, "CATALOG_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert f"collector on: {after}" in done.stderr
