"""The `catalog` command. Each command group lives in its own module; callbacks parse options, call one library
function and render the result. main() turns library errors into one line on stderr and exit status 1."""

from __future__ import annotations

import sys

import click

from catalog import __version__
from catalog.cli import bench as _bench
from catalog.cli import bench_report as _bench_report
from catalog.cli import estimate as _estimate
from catalog.cli import evalsets as _evalsets
from catalog.cli import evidence as _evidence
from catalog.cli import hardware as _hardware
from catalog.cli import models as _models
from catalog.cli import recommend as _recommend
from catalog.cli import sync as _sync
from catalog.cli import taxonomy as _taxonomy

# Commands whose work grows with their input or runs for minutes: the program starts with the cyclic collector off
# (catalog.console) and these turn it back on, after freezing what start-up allocated so that its passes skip it.
_LONG_RUNNING = frozenset({"sync", "bench", "evidence", "estimate", "hardware"})


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="catalog")
@click.option("--db", "db_url", metavar="URL", help="SQLAlchemy database URL for every command (env CATALOG_DB_URL).")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None) -> None:
    """Pick a pretrained model for a task, and prove the choice on your own hardware.

    The database defaults to a SQLite file in your user data directory, created and seeded from the curated
    taxonomy (catalog.yaml) on first use; --db or CATALOG_DB_URL selects another (e.g. PostgreSQL).
    """
    import gc

    if not gc.isenabled() and ctx.invoked_subcommand in _LONG_RUNNING:
        gc.freeze()
        gc.enable()


for _module in (_taxonomy, _models, _recommend, _sync, _bench, _hardware, _estimate, _evidence):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
for _command in (*_evalsets.COMMANDS, *_bench_report.COMMANDS):
    _bench.bench_group.add_command(_command)


def run() -> None:
    """The `catalog` program (console script and `python -m catalog`): main(), then freeze the collector's objects
    so that the interpreter's shutdown does not walk them all once more (~50 ms of every command's wall time here).
    Only for a process that is about to exit; library callers and tests use main()."""
    import gc

    try:
        main()
    finally:
        gc.freeze()


def main(argv: list[str] | None = None) -> None:
    from catalog import settings
    from catalog.errors import CatalogError

    try:
        cli.main(args=argv, prog_name="catalog", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except CatalogError as exc:
        if settings.debug():
            raise
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:
        if settings.debug():
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        click.echo(
            f"Error: unexpected {type(exc).__name__}: {first} (set CATALOG_DEBUG=1 for the traceback, "
            "and please report it).",
            err=True,
        )
        sys.exit(1)
