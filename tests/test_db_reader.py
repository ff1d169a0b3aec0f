"""catalog.db.reader: `catalog recommend` reads a current SQLite file with the standard library's sqlite3 (no
SQLAlchemy import, ~0.2 s of start-up), and gives exactly what the SQLAlchemy path gives; anything the quick checks
do not cover goes through open_database (migrate, seed, clear errors)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from catalog.db import open_database
from catalog.db import reader as db_reader
from catalog.db.engine import Database
from catalog.db.meta import HEAD_REVISION
from catalog.errors import DatabaseError, SchemaTooNewError
from catalog.recommend import NoMatchError, explain, recommend
from catalog.recommend import engine as recommend_engine

from .test_recommend_scale import NOW, _populate


def test_expand_turns_list_parameters_into_in_lists() -> None:
    sql, params = db_reader.expand("a IN :ids AND b IN :ids2 AND c = :id", {"ids": [3, 1], "ids2": {"y", "x"}, "id": 7})
    assert sql == "a IN (:ids_0, :ids_1) AND b IN (:ids2_0, :ids2_1) AND c = :id"
    assert params == {"ids_0": 3, "ids_1": 1, "ids2_0": "x", "ids2_1": "y", "id": 7}
    sql, params = db_reader.expand("a IN :ids", {"ids": []})
    assert sql == "a IN (NULL)" and params == {}  # matches no row, as an empty IN list should


def test_an_empty_list_matches_no_row(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "x.db")
    connection.execute("CREATE TABLE t (v INTEGER)")
    connection.executemany("INSERT INTO t VALUES (?)", [(1,), (2,), (None,)])
    reader = db_reader.SqliteReader(connection, tmp_path / "x.db")
    assert reader.all("SELECT v FROM t WHERE v IN :vs", {"vs": []}) == []
    assert reader.all("SELECT v FROM t WHERE v IN :vs ORDER BY v", {"vs": (2, 1)}) == [(1,), (2,)]


@pytest.mark.parametrize(
    ("url", "path"),
    [("sqlite:////data/catalog.db", "/data/catalog.db"), ("sqlite:///rel/c.db", "rel/c.db"),
     ("sqlite:///:memory:", None), ("sqlite://", None), ("sqlite:///c.db?mode=ro", None),
     ("postgresql+psycopg://u@h/db", None), ("sqlite:///a%20b.db", None)],
)  # fmt: skip
def test_only_plain_sqlite_file_urls_take_the_quick_path(url: str, path: str | None) -> None:
    assert db_reader.sqlite_file(url) == (Path(path) if path else None)


def _kind(url: str) -> str:
    with db_reader.reading(url) as reader:
        return type(reader).__name__


def test_reading_falls_back_to_open_database_until_the_file_is_current(tmp_path: Path, mini_taxonomy: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert _kind(url) == "ConnectionReader"  # no file yet: open_database creates, migrates and seeds it
    assert _kind(url) == "SqliteReader"
    mini_taxonomy.write_text(mini_taxonomy.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert _kind(url) == "ConnectionReader"  # catalog.yaml changed: seeded again through open_database
    assert _kind(url) == "SqliteReader"


def test_a_newer_schema_or_a_file_that_is_no_database_gets_open_databases_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    open_database(url).dispose()
    connection = sqlite3.connect(tmp_path / "c.db")
    connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.commit()
    connection.close()
    with pytest.raises(SchemaTooNewError, match="newer than this catalog"):
        recommend("ner", db=url)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DatabaseError, match="not a usable SQLite catalog database"):
        recommend("ner", db=f"sqlite:///{junk}")
    assert junk.read_bytes() == b"this is not a database" * 100


def test_a_read_that_fails_on_the_quick_path_is_a_database_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    open_database(url).dispose()
    with db_reader.reading(url) as reader, pytest.raises(DatabaseError, match="Reading the database .* failed"):
        reader.all("SELECT nothing FROM nowhere")


def _dump(value: Any) -> str:
    """JSON text, so that True and 1 (a Boolean as SQLite's driver gives it) differ."""
    return json.dumps(value, sort_keys=True, default=str)


OPTION_SETS: list[dict[str, Any]] = [
    {},
    {"profile": "accurate"},
    {"license": ["apache-2.0", "mit"], "language": "en"},
    {"permissive": True, "max_params": "300M", "include_gated": True},
    {"max_memory": "1GiB", "include_api": True},
    {"max_memory": "2GiB", "fits": True},
    {"max_latency_ms": 50.0},
    {"family": "bert", "architecture": "encoder-only"},
    {"library": "Transformers"},
]


@pytest.fixture
def populated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Database]:
    monkeypatch.setattr(recommend_engine, "utcnow", lambda: NOW)
    url = f"sqlite:///{tmp_path / 'scale.db'}"
    database = open_database(url)
    _populate(database, 1500)
    return url, database


def test_the_quick_path_ranks_exactly_as_the_sqlalchemy_path(
    populated: tuple[str, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, database = populated
    reads: list[str] = []
    quick = db_reader.SqliteReader.all

    def counted(self: db_reader.SqliteReader, sql: str, params: Any = None) -> Any:
        reads.append(sql)
        return quick(self, sql, params)

    monkeypatch.setattr(db_reader.SqliteReader, "all", counted)
    for options in OPTION_SETS:
        outcomes = []
        for db in (url, database):
            try:
                outcomes.append(_dump(recommend("ner", limit=0, db=db, **options).to_dict()))
            except NoMatchError as exc:
                outcomes.append(f"NoMatchError: {exc}")
        assert outcomes[0] == outcomes[1], options
        assert "NoMatchError" not in outcomes[0] or options.get("max_memory") == "1GiB", options
    assert reads, "the URL was not read on the quick path"


def test_the_quick_path_reads_measured_runs_and_explains_the_same(populated: tuple[str, Database]) -> None:
    from catalog import hardware
    from catalog.db.models import BenchmarkResult, BenchmarkRun

    url, database = populated
    top = recommend("ner", limit=3, db=url)
    model, other = top.items[0].model.id, top.items[1].model.id
    with database.session() as s:
        run = BenchmarkRun(machine_id=hardware.fingerprint()["machine_id"], status="finished")
        s.add(run)
        s.flush()
        common = dict(task_id="token-classification", device="cpu", dtype="float32", provenance="measured here",
                      status="ok")  # fmt: skip
        s.add(BenchmarkResult(run_id=run.id, model_id=model, batch_size=1, seq_len=128, latency_p50_ms=4.5,
                              peak_rss_infer_mb=300.0, **common))  # fmt: skip
        s.add(BenchmarkResult(run_id=run.id, model_id=other, batch_size=32, seq_len=0, eval_set="uner_en_ewt",
                              eval_checksum="c1", primary_metric="seqeval-f1", metrics={"seqeval-f1": 0.61},
                              n_examples=2077, **common))  # fmt: skip
    quick, full = (recommend("ner", limit=0, db=db) for db in (url, database))
    assert _dump(quick.to_dict()) == _dump(full.to_dict())
    by_id = {item.model.id: item for item in quick}
    assert by_id[model].latency_ms is not None and by_id[model].latency_ms.kind == "measured"
    assert by_id[other].accuracy is not None and by_id[other].accuracy.kind == "measured"
    assert by_id[other].accuracy.date is not None  # the run's date, parsed from SQLite's text
    assert _dump(explain(model, "ner", db=url).to_dict()) == _dump(explain(model, "ner", db=database).to_dict())
    assert _dump(explain(model, "ner", db=url, license="mit").to_dict()) == _dump(
        explain(model, "ner", db=database, license="mit").to_dict()
    )
    with db_reader.reading(url) as reader:
        assert reader.all("SELECT version_num FROM alembic_version") == [(HEAD_REVISION,)]


def test_task_records_read_the_same_on_both_paths(populated: tuple[str, Database]) -> None:
    from sqlalchemy import func, select

    from catalog.db.schema import model_tasks
    from catalog.lookup import task_records

    url, database = populated
    with db_reader.reading(url) as reader:
        assert isinstance(reader, db_reader.SqliteReader)
        quick = task_records(reader)
        one = task_records(reader, ["token-classification"])
    with database.connect() as conn:
        full = task_records(conn)
        counts = dict(conn.execute(select(model_tasks.c.task_id, func.count()).group_by(model_tasks.c.task_id)).all())
    assert _dump([t.to_dict() for t in quick]) == _dump([t.to_dict() for t in full])
    by_id = {t.id: t for t in quick}
    assert {t.id: t.models for t in quick if t.models} == counts and counts["token-classification"] > 0
    ner = by_id["token-classification"]
    assert "ner" in ner.aliases and ner.architectures and isinstance(ner.metrics, list) and ner.metrics
    assert [t.to_dict() for t in one] == [ner.to_dict()]
