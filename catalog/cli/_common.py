"""Options every listing shares, and opening the database the way the user asked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

db_option = click.option(
    "--db",
    "db_url",
    metavar="URL",
    envvar="CATALOG_DB_URL",
    help="SQLAlchemy database URL (default: SQLite in the user data dir; env CATALOG_DB_URL).",
)


def format_choice(*choices: str) -> Callable[[F], F]:
    """--format with these choices; the first is the default (for people), the rest are for scripts."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help=f"{choices[0]} for people, {' or '.join(choices[1:])} for scripts.",
    )


format_option = format_choice("table", "json", "csv")
lang_option = click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    envvar="CATALOG_LANG",
    default="en",
    show_default=True,
    help="Language of task and architecture names (English or Chinese).",
)


def listing_options(func: F) -> F:
    return db_option(format_option(lang_option(func)))


def open_db(db_url: str | None) -> Any:
    """Open the database named by the command's --db, else the group's --db, else the configured default."""
    from catalog.db import open_database

    if db_url is None:
        context = click.get_current_context(silent=True)
        if context is not None:
            db_url = context.find_root().params.get("db_url")
    return open_database(db_url)


def name_of(row: dict[str, Any], lang: str) -> str:
    return str(row.get("name_zh") if lang == "zh" else row.get("name_en"))
