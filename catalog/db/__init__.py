"""The catalog database: typed ORM (models), opening + migrating + seeding (engine)."""

from catalog.db.engine import HEAD_REVISION, Database, open_database

__all__ = ["HEAD_REVISION", "Database", "open_database"]
