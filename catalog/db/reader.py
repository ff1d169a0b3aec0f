"""Read the catalog database without SQLAlchemy: the start-up path of `catalog recommend`.

Importing SQLAlchemy costs 0.2-0.3 s on a small machine, more than half of a `catalog recommend` that should answer
in under half a second. The queries that command runs are plain SQL text, written once for SQLite and PostgreSQL
alike, with `:name` parameters (a list, tuple or set parameter stands for an IN list). `Reader` runs them:

- `SqliteReader`: the standard library's sqlite3 on a file database whose schema is current and whose taxonomy is
  the seeded one (two small queries and a file digest, the same checks as catalog.db.engine.open_database);
- `ConnectionReader`: a SQLAlchemy Connection or Session (PostgreSQL, in-memory SQLite, or inside a writer's
  transaction), through `text()`.

`reading(db)` picks one: anything the quick checks do not cover (a new or old schema, a changed catalog.yaml, a URL
with options, another backend) goes through open_database, which migrates and seeds as before. Values come back as
the drivers give them: a JSON column as text on SQLite, a DateTime as ISO text, a Boolean as 0/1; `as_json`,
`as_datetime` and `bool()` make them what SQLAlchemy's types would.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from catalog import settings
from catalog.db.meta import HEAD_REVISION, SEED_DIGEST_KEY

if TYPE_CHECKING:
    from catalog.db.engine import Database

SQLITE_BUSY_TIMEOUT_S = 60.0  # as catalog.db.engine: wait this long for another process's lock
_LISTS = (list, tuple, set, frozenset)


class Reader(Protocol):
    """Runs read-only SQL text with `:name` parameters; rows come back as tuples."""

    dialect: str  # "sqlite" | "postgresql"

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]: ...


def expand(sql: str, params: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """`:ids` with a list value -> `(:ids_0, :ids_1, ...)` (an empty list: `(NULL)`, which matches no row)."""
    if not params:
        return sql, {}
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, _LISTS):
            values = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
            names = [f"{name}_{i}" for i in range(len(values))]
            out.update(zip(names, values, strict=True))
            listed = "(" + ", ".join(f":{n}" for n in names) + ")" if names else "(NULL)"
            sql = re.sub(rf":{name}\b", listed.replace("\\", "\\\\"), sql)
        else:
            out[name] = value
    return sql, out


def first(reader: Reader, sql: str, params: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
    rows = reader.all(sql, params)
    return rows[0] if rows else None


def scalar(reader: Reader, sql: str, params: Mapping[str, Any] | None = None) -> Any:
    row = first(reader, sql, params)
    return None if row is None else row[0]


def column(reader: Reader, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
    return [row[0] for row in reader.all(sql, params)]


def as_json(value: Any) -> Any:
    """A JSON column's value: decoded from text (SQLite), or as the driver decoded it (PostgreSQL)."""
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def as_datetime(value: Any) -> datetime | None:
    """A DateTime column's value: parsed from SQLite's ISO text, or as the driver gave it."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class SqliteReader:
    """sqlite3 on one file, in one read transaction (a consistent view, as Database.connect gives)."""

    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection, self.path = connection, path

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        text, values = expand(sql, params)
        try:
            return self.connection.execute(text, values).fetchall()
        except sqlite3.Error as exc:
            from catalog.errors import DatabaseError

            raise DatabaseError(
                f"Reading the database {self.path} failed: {exc}. Retry; if it persists, check the file "
                "(sqlite3 PRAGMA integrity_check) or use another --db."
            ) from exc


class ConnectionReader:
    """A SQLAlchemy Connection or Session as a Reader."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        bind = connection.get_bind() if hasattr(connection, "get_bind") else connection
        self.dialect = bind.dialect.name

    def all(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        from sqlalchemy import text

        statement, values = expand(sql, params)
        return [tuple(row) for row in self.connection.execute(text(statement), values)]


def as_reader(source: Any) -> Reader:
    """A Reader as it is; a SQLAlchemy Connection or Session wrapped."""
    return source if isinstance(source, (SqliteReader, ConnectionReader)) else ConnectionReader(source)


def sqlite_file(url: str) -> Path | None:
    """The file of a plain `sqlite:///path` URL (no driver options, not in memory); None for anything else."""
    match = re.fullmatch(r"sqlite(?:\+pysqlite)?:///([^?#%]+)", url)
    if match is None or match.group(1) in (":memory:", ""):
        return None
    return Path(match.group(1)).expanduser()


def _current(connection: sqlite3.Connection) -> bool:
    """The schema is this code's head revision and the taxonomy the one seeded: nothing for open_database to do."""
    import hashlib

    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    if row is None or row[0] != HEAD_REVISION:
        return False
    stored = connection.execute("SELECT value FROM catalog_meta WHERE key = ?", (SEED_DIGEST_KEY,)).fetchone()
    data = settings.read_taxonomy_file(settings.taxonomy_path())
    return stored is not None and stored[0] == hashlib.sha256(data).hexdigest()


def _open_sqlite(path: Path) -> sqlite3.Connection | None:
    """A connection to an existing, current catalog database file, in a read transaction; None when
    open_database has work to do or something to say (missing file, old schema, not a database ...)."""
    if not path.is_file():
        return None
    try:
        uri = "file:" + str(path.resolve()).replace("?", "%3f").replace("#", "%23") + "?mode=rw"
        connection = sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        connection.execute("PRAGMA query_only=ON")
        connection.execute("BEGIN")
        if _current(connection):
            return connection
    except sqlite3.Error:
        pass
    except BaseException:
        connection.close()
        raise
    connection.close()
    return None


@contextmanager
def reading(db: Database | str | None = None) -> Iterator[Reader]:
    """A Reader on `db`: an opened Database, or a URL (None: the configured one). A URL of a current SQLite file is
    read with sqlite3, without SQLAlchemy; anything else is opened (migrated, seeded) by open_database."""
    if db is None or isinstance(db, str):
        url = settings.db_url(db)
        path = sqlite_file(url)
        connection = _open_sqlite(path) if path is not None else None
        if connection is not None and path is not None:
            try:
                yield SqliteReader(connection, path)
            finally:
                connection.close()
            return
        from catalog.db.engine import open_database

        database = open_database(url)
        try:
            with database.connect() as conn:
                yield ConnectionReader(conn)
        finally:
            database.dispose()
        return
    with db.connect() as conn:
        yield ConnectionReader(conn)
