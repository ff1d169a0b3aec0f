"""Alembic environment. The connection comes from catalog.db.engine (config.attributes["connection"]),
so migrations run inside the caller's transaction and a failure leaves the database as it was."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from catalog.db.schema import metadata

config = context.config
target_metadata = metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
        with engine.begin() as conn:
            _run(conn)
        return
    _run(connection)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("catalog migrations run online only")
run_migrations_online()
