"""The report commands keep the CLI contract: lazy imports, help on every option, plain click commands."""

from __future__ import annotations

import json
import subprocess
import sys

import click

HEAVY = ("torch", "transformers", "bench", "pandas", "numpy", "scipy", "matplotlib", "jinja2")


def test_importing_the_commands_loads_nothing_heavy() -> None:
    probe = "import catalog.cli, catalog.cli.bench_report, json, sys; print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = {m.split(".")[0] for m in json.loads(proc.stdout.strip().splitlines()[-1])}
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_commands_and_help(run_cli) -> None:  # type: ignore[no-untyped-def]
    from catalog.cli.bench_report import COMMANDS

    assert [c.name for c in COMMANDS] == ["report", "compare"]
    for command in COMMANDS:
        assert isinstance(command, click.Command) and not isinstance(command, click.Group)
        assert (command.help or "").strip()
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{command.name} {param.opts} has no help"
        result = run_cli("bench", command.name, "--help")
        assert result.code == 0 and "Usage:" in result.out
