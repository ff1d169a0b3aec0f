"""Database: creation, migrations, seeding and round trips on SQLite and PostgreSQL; failures leave it intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, inspect, select, text

from catalog.db import HEAD_REVISION, open_database
from catalog.db.engine import MIGRATIONS_DIR, REVISIONS
from catalog.db.models import Base, CatalogMeta, Family, Model, ModelLanguage, ReportedMetric, Task, TaskAlias
from catalog.errors import DatabaseError, DatabaseURLError, SchemaTooNewError, TaxonomyError
from catalog.taxonomy import load_taxonomy


def _counts(url: str) -> dict[str, int]:
    db = open_database(url, seed=False)
    try:
        with db.session() as s:
            return {
                "tasks": s.scalar(select(func.count()).select_from(Task)) or 0,
                "aliases": s.scalar(select(func.count()).select_from(TaskAlias)) or 0,
                "families": s.scalar(select(func.count()).select_from(Family)) or 0,
                "models": s.scalar(select(func.count()).select_from(Model)) or 0,
            }
    finally:
        db.dispose()


def test_first_open_creates_migrates_and_seeds(db_url: str, mini_taxonomy: Path) -> None:
    db = open_database(db_url)
    taxonomy = load_taxonomy(mini_taxonomy)
    with db.session() as s:
        assert s.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
        assert {t.id for t in s.scalars(select(Task))} == {t.id for t in taxonomy.tasks}
        assert s.get(TaskAlias, "ner").task_id == "token-classification"
        model = s.get(Model, "dslim/bert-base-NER")
        assert model is not None
        # Round trip of every kind of field, including JSON, relationships and provenance.
        assert model.params == 108310272
        assert model.license == "mit"
        assert model.family_id == "bert" and model.architecture_id == "encoder-only"
        assert model.language_codes == ["en"]
        assert model.task_ids == ["token-classification"]
        assert model.curated is True
        assert "model card" in model.provenance["params"]
        assert model.created_at is not None and model.updated_at is not None
        [metric] = model.reported
        assert (metric.metric, metric.value, metric.scale, metric.dataset) == (
            "seqeval-f1",
            91.3,
            "percent",
            "CoNLL-2003",
        )
        small = s.get(Model, "example/small-ner")
        assert small.language_codes == ["zh", "en"]  # order kept
        claude = s.get(Model, "anthropic/claude-3-haiku")
        assert claude.api_only and claude.params is None
        task = s.get(Task, "token-classification")
        assert task.metrics == ["seqeval-f1"]
        assert [a.id for a in task.architectures] == ["encoder-only"]
    db.dispose()


def test_reopen_does_not_reseed_unchanged_taxonomy(db_url: str, mini_taxonomy: Path) -> None:
    open_database(db_url).dispose()
    db = open_database(db_url)
    with db.session() as s:
        first = s.get(CatalogMeta, "seeded_at").value
        s.get(Model, "dslim/bert-base-NER").description = "kept: not overwritten when catalog.yaml is unchanged"
    db.dispose()
    db = open_database(db_url)
    with db.session() as s:
        assert s.get(CatalogMeta, "seeded_at").value == first
        assert s.get(Model, "dslim/bert-base-NER").description.startswith("kept")
    db.dispose()


def test_changed_taxonomy_is_reapplied(db_url: str, mini_taxonomy: Path) -> None:
    open_database(db_url).dispose()
    data = yaml.safe_load(mini_taxonomy.read_text(encoding="utf-8"))
    data["models"] = [m for m in data["models"] if m["id"] != "example/small-ner"]
    data["models"][0]["languages"] = ["en", "de"]
    data["tasks"][0]["aliases"] = ["ner", "entities"]
    mini_taxonomy.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    db = open_database(db_url)
    with db.session() as s:
        assert s.get(Model, "example/small-ner") is None
        assert s.get(Model, "dslim/bert-base-NER").language_codes == ["en", "de"]
        assert s.get(TaskAlias, "entities").task_id == "token-classification"
        assert (
            s.scalar(
                select(func.count()).select_from(ModelLanguage).where(ModelLanguage.model_id == "example/small-ner")
            )
            == 0
        )
    db.dispose()


def test_invalid_taxonomy_leaves_database_untouched(db_url: str, mini_taxonomy: Path) -> None:
    open_database(db_url).dispose()
    before = _counts(db_url)
    data = yaml.safe_load(mini_taxonomy.read_text(encoding="utf-8"))
    data["models"] = data["models"][:1]  # would delete models if applied ...
    data["families"][0]["architecture"] = "no-such-architecture"  # ... but the file is invalid
    mini_taxonomy.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(TaxonomyError, match="no-such-architecture"):
        open_database(db_url)
    assert _counts(db_url) == before


def test_schema_newer_than_code_is_refused_and_untouched(db_url: str, mini_taxonomy: Path) -> None:
    db = open_database(db_url)
    with db.session() as s:
        s.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    db.dispose()
    before = None
    with pytest.raises(SchemaTooNewError, match="9999.*Upgrade catalog"):
        open_database(db_url)
    db = open_database(db_url, seed=False) if False else None  # never reopen through the guard
    from sqlalchemy import create_engine

    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "9999"
        before = conn.execute(text("SELECT count(*) FROM models")).scalar()
    engine.dispose()
    assert before == 4


def test_migrations_from_empty_match_the_orm(db_url: str) -> None:
    """Upgrading an empty database yields exactly the ORM's schema (no drift between models and migrations)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    db = open_database(db_url, seed=False)
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diffs == []
        assert set(inspect(conn).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    db.dispose()


def test_downgrade_to_empty_and_back(db_url: str, mini_taxonomy: Path) -> None:
    from alembic import command
    from alembic.config import Config

    db = open_database(db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    with db.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    db.dispose()
    db = open_database(db_url)
    with db.session() as s:
        assert s.get(Model, "dslim/bert-base-NER") is not None
    db.dispose()


def test_code_knows_every_alembic_revision() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    ordered = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    assert tuple(ordered) == REVISIONS
    assert script.get_current_head() == HEAD_REVISION


def test_reported_metrics_cascade_with_their_model(db_url: str, mini_taxonomy: Path) -> None:
    db = open_database(db_url)
    with db.session() as s:
        s.delete(s.get(Model, "dslim/bert-base-NER"))
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ReportedMetric)) == 0
    db.dispose()


# --- errors that must be one clear line, with the database left as it was ------------------------------------


def test_bad_url_is_a_clear_error() -> None:
    with pytest.raises(DatabaseURLError, match="Bad database URL 'not a url'"):
        open_database("not a url")
    with pytest.raises(DatabaseURLError, match="Unsupported database URL scheme"):
        open_database("nosuchdb://x/y")


def test_unreachable_postgres_is_a_clear_error() -> None:
    with pytest.raises(DatabaseError, match="Cannot open the database at postgresql.*127.0.0.1.*Check that the server"):
        open_database("postgresql+psycopg://nobody:secret@127.0.0.1:9/catalog")


def test_password_never_appears_in_errors() -> None:
    with pytest.raises(DatabaseError) as info:
        open_database("postgresql+psycopg://nobody:hunter2@127.0.0.1:9/catalog")
    assert "hunter2" not in str(info.value)


def test_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(DatabaseError, match="not a usable SQLite catalog database"):
        open_database(f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_foreign_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(DatabaseError, match="not a catalog database"):
        open_database(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"invoices"}


def test_failed_first_seed_leaves_no_half_made_database(tmp_path: Path, mini_taxonomy: Path) -> None:
    """Migration and seeding share one transaction: a bad taxonomy on first use leaves an empty file."""
    mini_taxonomy.write_text("version: 1\ntasks: [\n", encoding="utf-8")
    path = tmp_path / "fresh.db"
    with pytest.raises(TaxonomyError):
        open_database(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0] == 0


def test_default_database_lives_in_the_data_dir(isolated_environment: Path, mini_taxonomy: Path) -> None:
    db = open_database()
    assert db.url == f"sqlite:///{isolated_environment / 'catalog.db'}"
    assert (isolated_environment / "catalog.db").is_file()
    db.dispose()


def test_env_url_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mini_taxonomy: Path) -> None:
    monkeypatch.setenv("CATALOG_DB_URL", f"sqlite:///{tmp_path / 'env.db'}")
    open_database().dispose()
    assert (tmp_path / "env.db").is_file()


def test_upgrade_keeps_existing_rows(db_url: str, mini_taxonomy: Path) -> None:
    """A database made by the first schema revision, with rows in it, upgrades in place without losing them."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, REVISIONS[0])
        conn.execute(
            text(
                "INSERT INTO models (id, gated, api_only, curated, description, source, provenance, created_at, "
                "updated_at) VALUES ('someone/old-model', false, false, false, '', 'hub', '{}', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()
    db = open_database(db_url)
    with db.session() as s:
        old = s.get(Model, "someone/old-model")
        assert old is not None and old.tags == []
        assert s.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
    db.dispose()
