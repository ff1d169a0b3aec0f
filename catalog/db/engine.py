"""Open the catalog database: validate the URL, connect, migrate with alembic, seed from catalog.yaml.

The common path (schema current, taxonomy unchanged) costs two small queries and a file digest; alembic and
pydantic are imported only when there is work for them. Every change runs in one transaction, so a failure
leaves the existing database as it was.

Several processes may use one database at once (an import, a sync, bench runs and listings). On SQLite every
transaction that may write starts with BEGIN IMMEDIATE, so a writer waits for the write lock up front (busy
timeout) instead of failing with "database is locked" when a read turns into a write; readers
(`Database.connect`) start deferred transactions and, in WAL mode, never wait for a writer. First-time
migration and seeding run under the write lock (SQLite) or an advisory lock (PostgreSQL) and re-check the
schema once they hold it, so processes started together on a new database migrate it once.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, make_url

from catalog import settings
from catalog.db.meta import HEAD_REVISION, REVISIONS, SEED_DIGEST_KEY
from catalog.errors import DatabaseError, DatabaseUnavailableError, DatabaseURLError, SchemaTooNewError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# How long a SQLite writer waits for another process's write transaction before it gives up (each attempt).
SQLITE_BUSY_TIMEOUT_S = 60.0
# Execution option: this connection only reads (SQLite: a deferred BEGIN, no write lock).
READ_ONLY = "catalog_read_only"
# pg_advisory_xact_lock key serialising catalog writers that upsert shared rows (migration, seeding, Hub pages).
PG_WRITE_LOCK_KEY = 0x6361_7461_6C6F_67  # "catalog"
T = TypeVar("T")


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return "<unparseable URL>"


def _sqlite_transactional(engine: Engine, file_backed: bool) -> None:
    """Make pysqlite honour transactions for DDL too (SQLAlchemy's documented recipe), enforce foreign keys, wait
    for other processes' locks (busy timeout) and use WAL (readers never wait for the writer) on a file. A
    transaction takes the write lock at BEGIN (IMMEDIATE) unless its connection is marked READ_ONLY: a deferred
    transaction that reads and then writes gets SQLITE_BUSY at once, without waiting, when another process
    wrote in between."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if file_backed:
            # a read-only file or directory keeps its journal mode; its readers still work
            with contextlib.suppress(sqlite3.OperationalError):
                cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _close_at_exit(engine: Engine) -> None:
    """Close the engine's connections when the process exits: the last connection to close checkpoints the WAL
    into the database file and removes it, so that the file alone (a copy, a backup) holds every commit."""
    import atexit
    import weakref

    reference = weakref.ref(engine)

    def close() -> None:
        alive = reference()
        if alive is not None:
            with contextlib.suppress(Exception):
                alive.dispose()

    atexit.register(close)


def is_transient(exc: BaseException) -> bool:
    """A database error that another process caused and that a new attempt of the same transaction may not meet:
    SQLite busy/locked, PostgreSQL deadlock, serialization failure or lock timeout, a dropped connection."""
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in ("40001", "40P01", "55P03"):
        return True
    text_ = str(orig).lower() if orig is not None else ""
    return "database is locked" in text_ or "database is busy" in text_ or "database table is locked" in text_


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError as exc:
        raise DatabaseURLError(
            f"Bad database URL {url!r}: expected a SQLAlchemy URL such as sqlite:///path/catalog.db or "
            "postgresql+psycopg://user@host/dbname. Fix --db or CATALOG_DB_URL."
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailableError(
                f"Cannot create the database directory {path.parent}: {exc.strerror}. "
                "Set CATALOG_DATA_DIR or --db to a writable place."
            ) from exc
    try:
        if backend == "sqlite":
            file_backed = (
                bool(parsed.database) and parsed.database != ":memory:" and "mode=memory" not in str(parsed.query)
            )
            engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
            _sqlite_transactional(engine, file_backed)
            if file_backed:
                _close_at_exit(engine)
        else:
            connect_args: dict[str, Any] = {"connect_timeout": 5} if backend == "postgresql" else {}
            engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except sa_exc.NoSuchModuleError as exc:
        raise DatabaseURLError(
            f"Unsupported database URL scheme {parsed.drivername!r}: use sqlite:/// or postgresql+psycopg://."
        ) from exc
    except ModuleNotFoundError as exc:
        hint = "pip install 'catalog[postgres]'" if backend == "postgresql" else f"install the {exc.name} driver"
        raise DatabaseURLError(f"No database driver for {parsed.drivername!r} ({exc.name} missing): {hint}.") from exc
    return engine


def _current_revision(connection: Connection) -> str | None:
    # Fast path (every start): read the version row directly, inside a savepoint so that a missing table does
    # not abort the transaction on PostgreSQL. Only a database without it is inspected.
    try:
        with connection.begin_nested():
            row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
        return None if row is None else str(row[0])
    except (sa_exc.OperationalError, sa_exc.ProgrammingError):
        pass
    from sqlalchemy import inspect

    if not inspect(connection).has_table("alembic_version"):
        if inspect(connection).get_table_names():
            tables = ", ".join(sorted(inspect(connection).get_table_names())[:5])
            raise DatabaseError(
                f"The database has tables ({tables}) but no catalog schema version: it is not a catalog database. "
                "Point --db / CATALOG_DB_URL at an empty or catalog database."
            )
        return None
    row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _stored_digest(connection: Connection) -> str | None:
    from catalog.db.schema import catalog_meta

    return connection.execute(
        select(catalog_meta.c.value).where(catalog_meta.c.key == SEED_DIGEST_KEY)
    ).scalar_one_or_none()


def _seed_if_changed(connection: Connection, path: Path, data: bytes, digest: str) -> None:
    """Seed when catalog.yaml differs from what the database was seeded from. The common case (unchanged file)
    is one digest and one Core query; the seeding module (ORM, pydantic) is imported only when there is work."""
    if _stored_digest(connection) != digest:
        from catalog.db.seed import seed

        seed(connection, path, digest, data)


def _lock_for_writing(connection: Connection) -> None:
    """PostgreSQL: hold the catalog's write lock until this transaction ends (SQLite: BEGIN IMMEDIATE did)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_WRITE_LOCK_KEY})


class Database:
    """An opened, migrated and seeded catalog database.

    Readers use `connect()` (SQLAlchemy Core on the tables of `catalog.db.schema`: the ORM is never imported on
    the read path, which keeps `catalog recommend` quick to start); writers use `session()` (the typed ORM).
    """

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self._sessions: sessionmaker[Session] | None = None

    @property
    def display_url(self) -> str:
        return _redact(self.url)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A read-only Core connection in one transaction (SQLite: deferred, so it never waits for a writer)."""
        with self.engine.connect() as connection:
            connection = connection.execution_options(**{READ_ONLY: True})
            with connection.begin():
                yield connection

    @contextmanager
    def session(self) -> Iterator[Session]:
        """An ORM session in one transaction: committed on success, rolled back on any error."""
        if self._sessions is None:
            from sqlalchemy.orm import sessionmaker

            self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A Core transaction that holds the catalog's write lock from its start (SQLite: BEGIN IMMEDIATE;
        PostgreSQL: an advisory lock), for writers that read rows and then insert or update them (upserts):
        two processes upserting the same models take turns instead of failing on each other's rows."""
        with self.engine.begin() as connection:
            _lock_for_writing(connection)
            yield connection

    def retrying(self, work: Callable[[], T], *, attempts: int = 5, what: str = "write") -> T:
        """Run `work` (which opens its own transaction) again when another process made it fail transiently
        (lock wait past the busy timeout, deadlock, dropped connection); bounded, with backoff."""
        delay = 0.5
        for attempt in range(1, attempts + 1):
            try:
                return work()
            except sa_exc.DBAPIError as exc:
                if not is_transient(exc):
                    raise
                if attempt == attempts:
                    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
                    raise DatabaseUnavailableError(
                        f"Could not {what} in the database at {self.display_url} after {attempts} attempts: "
                        f"{reason}. Another process holds it; retry when it has finished."
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 8.0)
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str | None = None, *, seed: bool = True, taxonomy_path: Path | None = None) -> Database:
    """Open (creating, migrating and seeding as needed) the catalog database at `url` or the configured one.

    The common case (schema current, taxonomy unchanged) only reads. Otherwise the work runs in one write
    transaction that holds the write lock (SQLite) or the advisory lock (PostgreSQL) and checks again once it
    holds it: of several processes opening a new database together, one migrates and seeds, the others wait
    and find it done."""
    resolved = settings.db_url(url)
    engine = make_engine(resolved)
    shown = _redact(resolved)
    taxonomy: tuple[Path, bytes, str] | None = None
    if seed:
        import hashlib

        path = taxonomy_path or settings.taxonomy_path()
        data = settings.read_taxonomy_file(path)
        taxonomy = (path, data, hashlib.sha256(data).hexdigest())

    def needs_work(connection: Connection) -> bool:
        revision = _current_revision(connection)
        if revision is not None and revision not in REVISIONS:
            raise SchemaTooNewError(
                f"The database at {shown} has schema revision {revision}, newer than this catalog "
                f"understands (up to {HEAD_REVISION}). Upgrade catalog (pip install -U catalog) or use "
                "another --db."
            )
        if revision != HEAD_REVISION:
            return True
        return taxonomy is not None and _stored_digest(connection) != taxonomy[2]

    try:
        with engine.connect() as reader:
            reader = reader.execution_options(**{READ_ONLY: True})
            with reader.begin():
                work = needs_work(reader)
        if work:
            with engine.begin() as connection:
                _lock_for_writing(connection)
                if _current_revision(connection) != HEAD_REVISION:
                    needs_work(connection)  # a newer schema may have arrived meanwhile
                    _upgrade(connection)
                if taxonomy is not None:
                    _seed_if_changed(connection, *taxonomy)
    except sa_exc.DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        if "file is not a database" in reason or "malformed" in reason:
            raise DatabaseError(
                f"{shown} is not a usable SQLite catalog database ({reason}). Move it aside or use another --db."
            ) from exc
        if is_transient(exc):
            raise DatabaseUnavailableError(
                f"The database at {shown} stayed busy ({reason}): another catalog process held it for over "
                f"{SQLITE_BUSY_TIMEOUT_S:g} s. Retry when it has finished."
            ) from exc
        if isinstance(exc, sa_exc.OperationalError):
            raise DatabaseUnavailableError(
                f"Cannot open the database at {shown}: {reason}. Check that the server is running and the URL "
                "is right (--db or CATALOG_DB_URL)."
            ) from exc
        raise DatabaseError(
            f"The database at {shown} cannot be used: {reason}. Move it aside or use another --db."
        ) from exc
    except BaseException:
        engine.dispose()
        raise
    return Database(engine, resolved)
