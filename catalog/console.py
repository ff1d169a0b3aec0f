"""The `catalog` program's entry point (console script and `python -m catalog`), kept apart from catalog.cli so that
the cyclic garbage collector is off before the first import: start-up allocates some 200,000 long-lived objects
(modules, classes, SQL constructs) and the collector's passes over them cost ~60 ms of a 0.5 s `catalog recommend`.
Commands that run for long (sync, bench, evidence import, calibration) turn it back on, see catalog.cli. Library
callers and tests use catalog.cli.main() and keep the interpreter's default."""

from __future__ import annotations

import gc


def run() -> None:
    gc.disable()
    from catalog.cli import run as run_cli

    run_cli()
