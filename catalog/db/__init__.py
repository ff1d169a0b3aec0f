"""The catalog database: typed ORM (models), opening + migrating + seeding (engine), and the SQLAlchemy-free
reader of the start-up path (reader). Names are imported on first use, so that `catalog.db.reader` can be
imported without SQLAlchemy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from catalog.db.meta import HEAD_REVISION

if TYPE_CHECKING:
    from catalog.db.engine import Database, open_database

__all__ = ["HEAD_REVISION", "Database", "open_database"]


def __getattr__(name: str) -> Any:
    if name in ("Database", "open_database"):
        from catalog.db import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'catalog.db' has no attribute {name!r}")
