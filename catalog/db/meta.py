"""Facts about the catalog schema that readers need without SQLAlchemy: the revisions this code knows and the
catalog_meta key holding the digest of the catalog.yaml last seeded. catalog.db.engine and catalog.db.reader share
them."""

from __future__ import annotations

from datetime import datetime, timezone

# Every revision this code knows, oldest first; tests check it against the alembic scripts.
REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005")
HEAD_REVISION = REVISIONS[-1]
SEED_DIGEST_KEY = "taxonomy_sha256"  # catalog_meta row holding the digest of the catalog.yaml last seeded


def utcnow() -> datetime:
    """Now, in UTC, without a time zone (how the schema's DateTime columns store it)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
