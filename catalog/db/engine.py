"""Open the catalog database: validate the URL, connect, migrate with alembic, seed from catalog.yaml.

The common path (schema current, taxonomy unchanged) costs two small queries and a file digest; alembic and
pydantic are imported only when there is work for them. Every change runs in one transaction, so a failure
leaves the existing database as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, make_url

from catalog import settings
from catalog.errors import DatabaseError, DatabaseUnavailableError, DatabaseURLError, SchemaTooNewError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

# Every revision this code knows, oldest first; tests check it against the alembic scripts.
REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005")
HEAD_REVISION = REVISIONS[-1]
SEED_DIGEST_KEY = "taxonomy_sha256"  # catalog_meta row holding the digest of the catalog.yaml last seeded
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return "<unparseable URL>"


def _sqlite_transactional(engine: Engine) -> None:
    """Make pysqlite honour transactions for DDL too (SQLAlchemy's documented recipe) and enforce foreign keys."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")


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
            engine = create_engine(parsed)
            _sqlite_transactional(engine)
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


def _seed_if_changed(connection: Connection, path: Path) -> None:
    """Seed when catalog.yaml differs from what the database was seeded from. The common case (unchanged file)
    is one digest and one Core query; the seeding module (ORM, pydantic) is imported only when there is work."""
    import hashlib

    from catalog.db.schema import catalog_meta
    from catalog.errors import TaxonomyError

    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise TaxonomyError(f"Cannot read taxonomy file {path}: {exc.strerror}. Check CATALOG_TAXONOMY.") from exc
    stored = connection.execute(
        select(catalog_meta.c.value).where(catalog_meta.c.key == SEED_DIGEST_KEY)
    ).scalar_one_or_none()
    if stored != digest:
        from catalog.db.seed import seed

        seed(connection, path, digest)


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
        """A Core connection in one transaction: committed on success, rolled back on any error."""
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def session(self) -> Iterator[Session]:
        """An ORM session in one transaction: committed on success, rolled back on any error."""
        if self._sessions is None:
            from sqlalchemy.orm import sessionmaker

            self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str | None = None, *, seed: bool = True, taxonomy_path: Path | None = None) -> Database:
    """Open (creating, migrating and seeding as needed) the catalog database at `url` or the configured one."""
    resolved = settings.db_url(url)
    engine = make_engine(resolved)
    shown = _redact(resolved)
    try:
        with engine.begin() as connection:
            revision = _current_revision(connection)
            if revision is not None and revision not in REVISIONS:
                raise SchemaTooNewError(
                    f"The database at {shown} has schema revision {revision}, newer than this catalog "
                    f"understands (up to {HEAD_REVISION}). Upgrade catalog (pip install -U catalog) or use "
                    "another --db."
                )
            if revision != HEAD_REVISION:
                _upgrade(connection)
            if seed:
                _seed_if_changed(connection, taxonomy_path or settings.taxonomy_path())
    except sa_exc.DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        if "file is not a database" in reason or "malformed" in reason:
            raise DatabaseError(
                f"{shown} is not a usable SQLite catalog database ({reason}). Move it aside or use another --db."
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
