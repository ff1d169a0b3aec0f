"""Reliability of Hub sync and snapshot import (issue 14): one poisoned item costs that item only, resume
points follow HF_ENDPOINT and never hold credentials, --limit counts the same in a run and in its resume,
honoured 429s keep the retry budget, and --export-snapshot writes atomically."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from catalog.db import open_database
from catalog.db.models import Model, ReportedMetric, SyncState
from catalog.hub.client import HubClient, HubUnavailableError, RetryPolicy, _retry_after
from catalog.hub.records import MalformedItem, decode_text, json_array_items, parse_item
from catalog.hub.sync import _Silent, export_snapshot, import_snapshot, sync_from_hub
from catalog.settings import redact_url

from .support.hub_server import FakeHub, HubServer, Malformed

FAST = RetryPolicy(attempts=3, base_s=0.001, cap_s=0.01, timeout_s=5.0)
TASK = "text-generation"


def good_records(n: int, prefix: str = "good", start: int = 10_000_000) -> list[dict[str, Any]]:
    """Plain, valid text-generation records, most downloaded first in listing order."""
    return [
        {
            "id": f"{prefix}/model-{i:04d}",
            "pipeline_tag": TASK,
            "tags": ["transformers", "gpt2", TASK, "license:mit"],
            "downloads": start - 1000 * i,
            "likes": i,
            "lastModified": "2024-05-01T10:00:00.000Z",
            "createdAt": "2023-01-01T00:00:00.000Z",
            "config": {"model_type": "gpt2"},
        }
        for i in range(n)
    ]


def fingerprint(db_url: str, *, with_state: bool = True) -> str:
    """Digest of everything a sync or import writes: equal digests mean the database was left unchanged
    (with_state=False: the models only, as a refused Hub listing has recorded its empty resume point)."""
    db = open_database(db_url)
    digest = hashlib.sha256()
    with db.connect() as conn:
        for table, order in (
            ("models", "id"),
            ("model_tasks", "model_id, task_id"),
            ("model_languages", "model_id, language"),
            ("reported_metrics", "model_id, metric, dataset"),
            *([("sync_state", "key")] if with_state else []),
        ):
            for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}")):
                digest.update(repr(tuple(row)).encode("utf-8", "backslashreplace"))
    db.dispose()
    return digest.hexdigest()


@pytest.fixture
def serve() -> Iterator[Any]:
    """serve(records) -> (FakeHub, url); servers stop at the end of the test."""
    servers: list[HubServer] = []

    def start(records: list[dict[str, Any]]) -> tuple[FakeHub, str]:
        hub = FakeHub.from_records(records)
        server = HubServer(hub).start()
        servers.append(server)
        return hub, server.url

    yield start
    for server in servers:
        server.stop()


def stored(db: Any) -> dict[str, Model]:
    with db.session() as session:
        return {m.id: m for m in session.scalars(select(Model).where(Model.synced_at.is_not(None)))}


# ----------------------------------------------------------------------------------------- poisoned Hub page

DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_INT = b"9" * 5000


def poisoned_records() -> tuple[list[dict[str, Any]], dict[str, bytes], dict[str, str | None]]:
    """Records for every poisoned item of issue 14, the raw bytes spliced into the page, and per id what must
    happen: the skip reason, or None where the item is stored (with the absurd value not derived)."""
    base = {"pipeline_tag": TASK, "tags": [TASK], "lastModified": "2024-05-01T10:00:00.000Z"}
    downloads = iter(range(9_999_500, 0, -2_000))  # interleaved with the good records' downloads

    def record(model_id: str, **fields: Any) -> dict[str, Any]:
        return base | {"id": model_id, "downloads": next(downloads)} | fields

    expected: dict[str, str | None] = {}
    records = []
    for model_id, fields, outcome in [
        ("evil/downloads-2e63", {"downloads": 2**63}, "downloads is out of range"),
        ("evil/downloads-2e64", {"downloads": 2**64 + 7}, "downloads is out of range"),
        ("evil/likes-2e63", {"likes": 2**63}, "likes is out of range"),
        ("evil/likes-2e31", {"likes": 2**31}, "likes is out of range"),
        ("evil/safetensors-2e63", {"safetensors": {"total": 2**63}}, "safetensors.total is out of range"),
        ("evil/likes-nan", {"likes": float("nan")}, "likes is not a count"),
        ("evil/superscript", {"likes": "\u00b2"}, "likes is not a count"),  # '²'.isdigit() is true
        ("evil/llama-99999999999b", {}, None),
        (
            "evil/huge-shapes",
            {
                "config": {
                    "model_type": "llama",
                    "hidden_size": 10**30,
                    "vocab_size": 10**30,
                    "num_hidden_layers": 10**30,
                    "num_attention_heads": 1,
                }
            },
            None,
        ),
        ("evil/year-one", {"lastModified": "0001-01-01T00:00:00+01:00"}, "lastModified is out of range"),
        ("evil/year-one-created", {"createdAt": "0001-01-01T00:30:00+01:00"}, "createdAt is out of range"),
        (
            "evil/nan-metric",
            {
                "model-index": [
                    {
                        "name": "x",
                        "results": [
                            {
                                "task": {"type": TASK},
                                "dataset": {"name": "wikitext"},
                                "metrics": [
                                    {"type": "perplexity", "value": float("nan")},
                                    {"type": "accuracy", "value": 10**400},
                                    {"type": "f1", "value": 0.5},
                                ],
                            }
                        ],
                    }
                ]
            },
            None,
        ),
        ("evil/\ud800-surrogate", {"_id": "f" * 24}, "invalid id"),
        ("evil/deep-card", {"cardData": "@@deep@@"}, "nested too deeply"),
        ("evil/not-utf8", {"author": "@@latin1@@"}, "text is not valid UTF-8 or Unicode"),
        ("evil/digits-5000", {"likes": "@@digits@@"}, "likes is not a count"),
        ("evil/digits-in-config", {"config": {"model_type": "gpt2", "n_embd": "@@digits@@"}}, None),
        (
            "evil/big-tag",
            {"tags": [TASK, "x" * (17 << 20)]},
            "tags holds a tag over 1000 characters or with a NUL character",
        ),
        ("evil/nul-author", {"author": "a\x00b"}, "author contains a NUL character"),
        (
            "evil/long-metric-task",
            {
                "model-index": [
                    {
                        "results": [
                            {
                                "task": {"type": "t" * 500},
                                "dataset": {"name": "d" * 900, "split": "s" * 300},
                                "metrics": [{"type": "m" * 300, "value": 1}],
                            }
                        ]
                    }
                ]
            },
            None,
        ),
        ("evil/bad-escape", {"author": "@@bad-escape@@"}, "not valid JSON"),
    ]:
        records.append(record(model_id, **fields))
        expected[model_id] = outcome
    splice = {
        "@@deep@@": DEEP,
        "@@latin1@@": b'"caf\xe9 \xff"',
        "@@digits@@": HUGE_INT,
        "@@bad-escape@@": b'"\\x41"',
    }
    return records, splice, expected


def test_a_poisoned_hub_page_costs_only_its_poisoned_items(serve, mini_taxonomy: Path, db_url: str) -> None:  # type: ignore[no-untyped-def]
    poisoned, splice, expected = poisoned_records()
    good = good_records(60)
    hub, url = serve(good + poisoned)
    hub.splice = splice
    db = open_database(db_url)
    report = sync_from_hub(db, tasks=[TASK], endpoint=url, client=HubClient(url, retry=FAST), page_size=25)
    total = report.totals()
    models = stored(db)
    skipped = {m: reason for m, reason in expected.items() if reason is not None}
    assert {r["id"] for r in good} <= set(models)
    assert set(models) == {r["id"] for r in good} | (set(expected) - set(skipped))
    assert total.fetched == len(good) + len(poisoned) and total.skipped == len(skipped)
    reasons: dict[str, int] = {}
    for reason in skipped.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    assert total.skip_reasons == reasons
    assert total.pages == 4  # 81 items in pages of 25
    # Stored, with the absurd value not derived
    assert models["evil/llama-99999999999b"].params is None
    assert models["evil/huge-shapes"].params is None
    with db.session() as session:
        metrics = session.scalars(select(ReportedMetric).where(ReportedMetric.model_id == "evil/nan-metric")).all()
        assert [(m.metric, m.value) for m in metrics] == [("f1", 0.5)]  # NaN and 10**400 dropped
        [long] = session.scalars(select(ReportedMetric).where(ReportedMetric.model_id == "evil/long-metric-task"))
        assert len(long.task_id) == 64 and len(long.metric) == 64 and len(long.dataset) == 255
    # The same listing again: nothing new fails, the stored models are unchanged
    again = sync_from_hub(db, tasks=[TASK], endpoint=url, client=HubClient(url, retry=FAST), page_size=25).totals()
    assert (again.inserted, again.unchanged, again.skipped) == (0, len(models), len(skipped))
    db.dispose()


def test_poisoned_page_through_the_cli_is_a_counted_skip_not_an_error(
    serve, run_cli, mini_taxonomy: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    poisoned, splice, expected = poisoned_records()
    hub, url = serve(good_records(5) + poisoned)
    hub.splice = splice
    monkeypatch.setenv("HF_ENDPOINT", url)
    result = run_cli("sync", "--task", TASK)
    assert result.code == 0, result.err
    skipped = sum(1 for reason in expected.values() if reason)
    assert f"skipped {skipped} malformed items" in result.out
    assert "nested too deeply (1)" in result.out and "downloads is out of range (2)" in result.out


def test_parse_item_boundaries() -> None:
    assert parse_item({"id": "a/b", "downloads": 2**63 - 1, "likes": 2**31 - 1}).downloads == 2**63 - 1
    for raw, reason in [
        ({"id": "a/b", "downloads": "²"}, "downloads is not a count"),
        ({"id": "a/b", "downloads": "9" * 5000}, "downloads is not a count"),
        ({"id": "a/b", "downloads": float("inf")}, "downloads is not a count"),
        ({"id": "a/b", "tags": None, "lastModified": "9999-12-31T23:59:59-01:00"}, "lastModified is out of range"),
        ({"id": "a/\x07bell"}, "invalid id"),
        ({"id": "a/b", "pipeline_tag": "x\x00"}, "pipeline_tag contains a NUL character"),
        ({"id": "a/b", "cardData": {"license": "mit\udcff"}}, "text is not valid UTF-8 or Unicode"),
    ]:
        with pytest.raises(MalformedItem, match=reason):
            parse_item(raw)
    assert parse_item({"id": "a/b", "downloads": "123"}).downloads == 123


def test_json_array_items_isolates_bad_items_and_refuses_non_arrays() -> None:
    text_ = '[{"id": "a/1"}, ' + "[" * 5000 + "]" * 5000 + ', {"id": "a/2", "n": ' + "7" * 5000 + "}, {bad}]"
    items = json_array_items(text_)
    assert items[0] == {"id": "a/1"} and items[2]["id"] == "a/2" and items[2]["n"] == float("inf")
    assert [getattr(i, "reason", None) for i in (items[1], items[3])] == ["nested too deeply: item 2",
                                                                         "not valid JSON: item 4"]  # fmt: skip
    assert json_array_items(decode_text(b'\xef\xbb\xbf[{"id": "a/bom"}]')) == [{"id": "a/bom"}]  # a BOM first
    for not_array in ('{"id": "a"}', "[1, 2", "<html>", "[1] trailing", ""):
        with pytest.raises(ValueError):
            json_array_items(not_array)


def test_a_value_the_database_refuses_costs_that_item_only(mini_taxonomy: Path, db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The last line of defence: with the storability checks switched off, the database's own refusal of one
    item (an integer too large for its column) is counted as that item's skip; the rest of the batch is kept."""
    from catalog.hub import sync

    monkeypatch.setattr(sync, "_unstorable", lambda derived: None)
    monkeypatch.setattr(sync.Deriver, "params", staticmethod(lambda record: (2**70, "test") if "evil" in record.id
                                                               else (None, "")))  # fmt: skip
    db = open_database(db_url)
    path = Path(os.environ["CATALOG_DATA_DIR"]) / "refused.jsonl"
    path.write_text("".join(json.dumps({"id": i, "tags": []}) + "\n" for i in ("a/one", "evil/two", "a/three")))
    total = import_snapshot(db, path).totals()
    assert (total.inserted, total.skipped) == (2, 1)
    [reason] = total.skip_reasons
    assert reason.startswith("refused by the database")
    assert set(stored(db)) == {"a/one", "a/three"}
    db.dispose()


# ----------------------------------------------------------------------------------------- poisoned snapshot files


def test_poisoned_csv_snapshot(run_cli, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    header = "modelId,author,pipeline_tag,downloads,likes,tags,lastModified\n"
    good = [f"good/csv-{i},good,{TASK},{100 + i},1,\"['{TASK}']\",2024-05-01T10:00:00.000Z\n" for i in range(6)]
    rows = [
        good[0],
        f"bad/superscript,b,{TASK},²,1,[],\n",  # '²'.isdigit() is true
        good[1],
        f"bad/digits,b,{TASK},{'9' * 5000},1,[],\n",
        good[2],
        f'bad/tags,b,{TASK},5,1,"[\'unclosed",\n',  # unparseable tags: a skip, not []
        good[3],
        f'bad/huge-field,b,{TASK},5,1,"{"x" * (17 << 20)}",\n',  # over the 16 MiB field limit
        good[4],
        f"bad/date,b,{TASK},5,1,[],0001-01-01T00:00:00+01:00\n",
        good[5],
    ]
    path = tmp_path / "poisoned.csv"
    with path.open("wb") as out:
        out.write(b"\xef\xbb\xbf" + header.encode())  # a UTF-8 BOM, as spreadsheet programs write
        for row in rows:
            out.write(row.encode())
        out.write(f"bad/latin1,caf\xe9,{TASK},5,1,[],\n".encode("latin-1"))
    db_url = f"sqlite:///{tmp_path / 'csv.db'}"
    result = run_cli("sync", "--db", db_url, "--from-snapshot", str(path), "--format", "json")
    assert result.code == 0, result.err
    total = result.json()["total"]
    assert total["inserted"] == 6 and total["skipped"] == 6 and total["fetched"] == 12
    assert total["skip_reasons"] == {
        "downloads is not a count": 2,
        "tags is not a list of strings": 1,
        "unreadable CSV row": 1,
        "lastModified is out of range": 1,
        "text is not valid UTF-8 or Unicode": 1,
    }
    db = open_database(db_url)
    assert set(stored(db)) == {f"good/csv-{i}" for i in range(6)}
    db.dispose()


def test_poisoned_jsonl_snapshot(run_cli, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def line(model_id: str, **extra: Any) -> bytes:
        return json.dumps({"id": model_id, "pipeline_tag": TASK, "tags": [TASK]} | extra).encode() + b"\n"

    path = tmp_path / "poisoned.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + line("good/first")  # a BOM must not cost the first row
        + b'{"id": "bad/deep", "cardData": ' + DEEP + b"}\n"
        + line("good/second")
        + b'{"id": "bad/digits", "downloads": ' + HUGE_INT + b"}\n"
        + b'{"id": "bad/latin1", "author": "caf\xe9"}\n'
        + line("good/third", downloads=2**63 - 1)
        + line("bad/big", downloads=2**63)
        + b'{"id": "bad/nan", "likes": NaN}\n'
        + line("bad/surrogate\ud800")
        + b"not json at all\n"
        + b"\n"
        + line("good/fourth")
    )  # fmt: skip
    db_url = f"sqlite:///{tmp_path / 'jsonl.db'}"
    result = run_cli("sync", "--db", db_url, "--from-snapshot", str(path), "--format", "json")
    assert result.code == 0, result.err
    total = result.json()["total"]
    assert total["skip_reasons"] == {
        "nested too deeply": 1,
        "downloads is not a count": 1,
        "not UTF-8": 1,
        "downloads is out of range": 1,
        "likes is not a count": 1,
        "invalid id": 1,
        "not valid JSON": 1,
    }
    db = open_database(db_url)
    assert set(stored(db)) == {"good/first", "good/second", "good/third", "good/fourth"}
    db.dispose()


def test_poisoned_json_array_snapshot(mini_taxonomy: Path, tmp_path: Path) -> None:
    path = tmp_path / "array.json"
    path.write_bytes(
        b'\xef\xbb\xbf[{"id": "good/a", "tags": []}, {"id": "bad/deep", "x": ' + DEEP + b"},"
        b' {"id": "bad/digits", "likes": ' + HUGE_INT + b'}, {"id": "good/b"}]'
    )
    db = open_database(f"sqlite:///{tmp_path / 'array.db'}")
    total = import_snapshot(db, path).totals()
    assert (total.inserted, total.skipped) == (2, 2)
    assert total.skip_reasons == {"nested too deeply": 1, "likes is not a count": 1}
    db.dispose()


def test_a_snapshot_that_is_not_a_regular_file_is_refused_at_once(run_cli, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)  # reading it would block for ever
    for target in (fifo, tmp_path):
        result = run_cli("sync", "--from-snapshot", str(target))
        assert result.code == 1 and "is not a regular file" in result.err and result.err.count("\n") == 1


def test_a_snapshot_whose_name_is_not_utf8_imports(mini_taxonomy: Path, tmp_path: Path) -> None:
    path = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.jsonl"))
    path.write_text('{"id": "n/one", "tags": []}\n')
    db = open_database(f"sqlite:///{tmp_path / 'name.db'}")
    assert import_snapshot(db, path).totals().inserted == 1
    assert stored(db)["n/one"].source == "snapshot:caf\\xe9.jsonl"
    db.dispose()


def test_an_import_stopped_part_way_says_so_and_the_same_command_finishes_it(
    mini_taxonomy: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Restartable, not all-or-nothing: the batches written stay, the error says how many, and importing the
    same file again completes it (the saved ones count as unchanged)."""
    from sqlalchemy import exc as sa_exc

    from catalog.errors import DatabaseUnavailableError
    from catalog.hub import sync

    path = tmp_path / "stops.jsonl"
    path.write_text("".join(json.dumps({"id": f"s/m{i:02d}", "tags": []}) + "\n" for i in range(35)))
    db = open_database(f"sqlite:///{tmp_path / 'stops.db'}")
    real = sync.write_page
    calls = []

    def failing_third(conn: Any, *args: Any) -> int:
        calls.append(1)
        if len(calls) == 3:
            raise sa_exc.OperationalError("INSERT ...", {}, Exception("disk I/O error"))
        return real(conn, *args)

    monkeypatch.setattr(sync, "write_page", failing_third)
    with pytest.raises(DatabaseUnavailableError, match=r"stopped after 20 models .*disk I/O error.* those are saved"):
        import_snapshot(db, path, batch=10)
    assert len(stored(db)) == 20
    monkeypatch.setattr(sync, "write_page", real)
    total = import_snapshot(db, path, batch=10).totals()
    assert (total.unchanged, total.inserted) == (20, 15) and len(stored(db)) == 35
    db.dispose()


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("no-columns.csv", b"id,name\na/b,x\n", "needs the columns modelId and tags"),
        ("broken.json", b'[{"id": "a/b"}, {"id": "a/c"', "not a JSON array"),
        ("broken.jsonl", b'[{"id": "a/b"}] and more', "not a JSON array"),
        ("snapshot.parquet", b"PAR1", "unknown snapshot format"),
    ],
)
def test_refused_snapshot_leaves_the_database_unchanged(
    run_cli, mini_taxonomy: Path, tmp_path: Path, name: str, content: bytes, message: str
) -> None:  # type: ignore[no-untyped-def]
    db_url = f"sqlite:///{tmp_path / 'refuse.db'}"
    seed = tmp_path / "seed.jsonl"
    seed.write_text('{"id": "seed/model", "tags": []}\n')
    assert run_cli("sync", "--db", db_url, "--from-snapshot", str(seed)).code == 0
    before = fingerprint(db_url)
    path = tmp_path / name
    path.write_bytes(content)
    result = run_cli("sync", "--db", db_url, "--from-snapshot", str(path))
    assert result.code == 1 and message in result.err
    assert result.err.count("\n") == 1 and "unexpected" not in result.err
    assert fingerprint(db_url) == before


# ----------------------------------------------------------------------------------------- resume and endpoints


class FailAfterPages(_Silent):
    """Makes the Hub fail every request once `pages` pages of the run are saved."""

    def __init__(self, hub: FakeHub, pages: int) -> None:
        self.hub, self.pages = hub, pages

    def page_done(self, label: str, models: int, skipped: int, pages: int) -> None:
        if pages == self.pages:
            self.hub.fail_next(50, "503")


def _interrupted(db: Any, hub: FakeHub, url: str, pages: int = 1, **options: Any) -> HubUnavailableError:
    with pytest.raises(HubUnavailableError) as caught:
        sync_from_hub(db, tasks=[TASK], client=HubClient(url, retry=FAST), reporter=FailAfterPages(hub, pages),
                      **options)  # fmt: skip
    hub.clear_faults()
    return caught.value


def test_resume_after_switching_mirror_never_goes_back_to_the_old_host(
    serve, mini_taxonomy: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    records = good_records(250)
    old_hub, old_url = serve(records)
    db = open_database(f"sqlite:///{tmp_path / 'mirror.db'}")
    _interrupted(db, old_hub, old_url, limit=250, page_size=100)
    with db.session() as session:
        [state] = session.scalars(select(SyncState)).all()
    assert state.next_url.startswith("/api/models?") and "cursor=" in state.next_url  # path and query only
    assert f"hub={old_url}" in state.key
    _, new_url = serve(records)
    old_hub.clear_log()
    report = sync_from_hub(db, tasks=[TASK], limit=250, endpoint=new_url, page_size=100)
    assert not report.listings[0].resumed  # a listing of another host starts from its first page
    assert old_hub.request_log == []  # nothing (and no token) went to the old host
    assert report.totals().stored == 250 and len(stored(db)) == 250
    # Back on the first mirror, its own resume point is used, joined to its endpoint.
    again = sync_from_hub(db, tasks=[TASK], limit=250, endpoint=old_url, page_size=100)
    assert again.listings[0].resumed and again.totals().fetched == 150
    assert "cursor=" in old_hub.request_log[0][1]
    db.dispose()


def test_credentials_in_hf_endpoint_are_never_stored_or_printed(
    serve, run_cli, mini_taxonomy: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    hub, url = serve(good_records(30))
    secret = "pa55-" + "x" * 12
    endpoint = url.replace("http://", f"http://mirror-user:{secret}@")
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    db_path = tmp_path / "creds.db"
    db_url = f"sqlite:///{db_path}"
    result = run_cli("sync", "--db", db_url, "--task", TASK, "--limit", "20")
    assert result.code == 0, result.err
    shown = run_cli("show", "--db", db_url, "good/model-0000", "--format", "json")
    listed = run_cli("models", "--db", db_url, "--task", TASK, "--format", "json")
    assert shown.code == 0 and listed.code == 0
    assert shown.json()[0]["source"] == "hub:" + url.replace("http://", "http://mirror-user:***@")
    for output in (result, shown, listed):
        assert secret not in output.out + output.err
    db = open_database(db_url)
    hub.fail_next(50, "503")
    with pytest.raises(HubUnavailableError) as failed:  # the message the CLI prints
        sync_from_hub(db, tasks=[TASK], limit=25, client=HubClient(endpoint, retry=FAST))
    assert "mirror-user:***@" in str(failed.value) and secret not in str(failed.value)
    db.dispose()
    for path in tmp_path.glob("creds.db*"):  # the database and its WAL/journal files
        assert secret.encode() not in path.read_bytes()
    assert redact_url("http://hf_token123@host/x") == "http://***@host/x"


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:99999", "ftp://mirror", "http://[::1", "http://", "x y"])
def test_an_unusable_hf_endpoint_is_one_line_and_changes_nothing(
    run_cli, mini_taxonomy: Path, tmp_path: Path, monkeypatch, endpoint: str
) -> None:  # type: ignore[no-untyped-def]
    db_url = f"sqlite:///{tmp_path / 'endpoint.db'}"
    before = fingerprint(db_url)
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    result = run_cli("sync", "--db", db_url, "--task", TASK)
    assert result.code == 1 and result.err.startswith("Error: HF_ENDPOINT") and result.err.count("\n") == 1
    assert fingerprint(db_url) == before


def test_a_source_stored_with_credentials_is_shown_redacted_and_replaced(
    serve, run_cli, mini_taxonomy: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Rows written before credentials were redacted: show hides them, the next sync replaces them."""
    _, url = serve(good_records(3))
    db_url = f"sqlite:///{tmp_path / 'legacy.db'}"
    db = open_database(db_url)
    sync_from_hub(db, tasks=[TASK], endpoint=url)
    with db.connect() as conn:
        conn.execute(
            text("UPDATE models SET source = 'hub:http://old:s3cret@mirror.example' WHERE synced_at IS NOT NULL")
        )
    shown = run_cli("show", "--db", db_url, "good/model-0001", "--format", "json")
    assert shown.json()[0]["source"] == "hub:http://old:***@mirror.example" and "s3cret" not in shown.out
    sync_from_hub(db, tasks=[TASK], endpoint=url)  # unchanged facts: only the source is rewritten
    with db.connect() as conn:
        assert {row[0] for row in conn.execute(text("SELECT source FROM models WHERE synced_at IS NOT NULL"))} == {
            f"hub:{url}"
        }
    db.dispose()


def test_limit_counts_the_same_in_a_run_and_in_its_resume(serve, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    records = good_records(400)
    hub, url = serve(records)
    hub.malformed = Malformed(kinds=("wrong_type",), every=10, first=5)  # 10 skips per page of 100
    whole = open_database(f"sqlite:///{tmp_path / 'whole.db'}")
    sync_from_hub(whole, tasks=[TASK], limit=250, endpoint=url, page_size=100)
    resumed = open_database(f"sqlite:///{tmp_path / 'resumed.db'}")
    _interrupted(resumed, hub, url, limit=250, page_size=100)
    hub.malformed = Malformed(kinds=("wrong_type",), every=10, first=5)  # clear_faults() dropped it
    report = sync_from_hub(resumed, tasks=[TASK], limit=250, endpoint=url, page_size=100)
    assert report.listings[0].resumed and report.totals().fetched == 150
    assert set(stored(resumed)) == set(stored(whole))
    assert len(stored(whole)) == 225  # 250 items of the listing, 25 of them malformed
    whole.dispose()
    resumed.dispose()


def test_the_resumed_error_counts_what_earlier_runs_saved(serve, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hub, url = serve(good_records(400))
    db = open_database(f"sqlite:///{tmp_path / 'count.db'}")
    first = _interrupted(db, hub, url, limit=400, page_size=100)
    assert "100 models synced so far are saved" in str(first)
    second = _interrupted(db, hub, url, limit=400, page_size=100)  # resumes, saves page 2, fails again
    assert "200 models synced so far are saved" in str(second)
    db.dispose()


def test_the_summary_says_a_listing_was_continued(
    serve, run_cli, mini_taxonomy: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    hub, url = serve(good_records(1200))
    db_url = f"sqlite:///{tmp_path / 'continued.db'}"
    db = open_database(db_url)
    _interrupted(db, hub, url, limit=1200)  # pages of 1000: the first is saved
    db.dispose()
    monkeypatch.setenv("HF_ENDPOINT", url)
    result = run_cli("sync", "--db", db_url, "--task", TASK, "--limit", "1200")
    assert result.code == 0, result.err
    assert "Synced 200 models" in result.out
    assert "Continued 1 interrupted listing(s) where they stopped (1000 models saved then)." in result.out


def test_honoured_retry_after_does_not_use_up_the_retry_budget(serve) -> None:  # type: ignore[no-untyped-def]
    hub, url = serve(good_records(3))
    waits: list[float] = []
    client = HubClient(url, retry=RetryPolicy(attempts=2, base_s=0.001, cap_s=0.01), sleep=waits.append)
    hub.fail_next(5, "429", retry_after=7)  # more 429s than attempts
    page = client.page(f"{url}/api/models")
    assert len(page.items) == 3 and waits == [7.0] * 5
    # ... within bounds: past rate_limit_wait_s in total it gives up with a clear reason
    capped = HubClient(url, retry=RetryPolicy(attempts=2, rate_limit_wait_s=20), sleep=waits.append)
    hub.fail_next(5, "429", retry_after=7)
    with pytest.raises(HubUnavailableError, match=r"rate-limited \(HTTP 429\) for 21 s"):
        capped.page(f"{url}/api/models")
    hub.clear_faults()
    counted = HubClient(url, retry=RetryPolicy(attempts=2, rate_limit_tries=3), sleep=waits.append)
    hub.fail_next(5, "429", retry_after=0)  # a server that says "now" forever
    with pytest.raises(HubUnavailableError, match=r"rate-limited \(HTTP 429\) 4 times in a row"):
        counted.page(f"{url}/api/models")
    hub.clear_faults()
    # 5xx still use the budget
    hub.fail_next(2, "503")
    with pytest.raises(HubUnavailableError, match="HTTP 503 after 2 tries"):
        HubClient(url, retry=RetryPolicy(attempts=2, base_s=0.001, cap_s=0.01)).page(f"{url}/api/models")
    for header, seconds in (("nan", None), ("inf", None), ("-5", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)):
        assert _retry_after({"retry-after": header}) == seconds


# ----------------------------------------------------------------------------------------- export


def _export_db(tmp_path: Path) -> Any:
    db = open_database(f"sqlite:///{tmp_path / 'export.db'}")
    source = tmp_path / "source.jsonl"
    source.write_text("".join(json.dumps({"id": f"x/m{i}", "tags": []}) + "\n" for i in range(5)))
    import_snapshot(db, source)
    return db


def test_export_never_follows_a_planted_symlink(mini_taxonomy: Path, tmp_path: Path) -> None:
    db = _export_db(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = out_dir / "models.jsonl"
    (out_dir / "models.jsonl.partial").symlink_to(victim)  # the old predictable name
    count = export_snapshot(db, target)
    assert victim.read_text() == "precious"
    lines = target.read_text().splitlines()
    assert len(lines) == count and {f"x/m{i}" for i in range(5)} <= {json.loads(line)["id"] for line in lines}
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()
    # A symlink at the target itself is replaced by the file, its target left alone.
    linked = out_dir / "linked.jsonl"
    linked.symlink_to(victim)
    export_snapshot(db, linked)
    assert not linked.is_symlink() and victim.read_text() == "precious"
    assert sorted(p.name for p in out_dir.iterdir()) == ["linked.jsonl", "models.jsonl", "models.jsonl.partial"]
    db.dispose()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_export_to_a_missing_directory_or_a_directory_is_one_line_and_leaves_nothing(
    run_cli, mini_taxonomy: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _export_db(tmp_path).dispose()
    db_url = f"sqlite:///{tmp_path / 'export.db'}"
    before = sorted(tmp_path.rglob("*"))
    missing = run_cli("sync", "--db", db_url, "--export-snapshot", str(tmp_path / "nowhere" / "m.jsonl"))
    assert missing.code == 1 and "does not exist" in missing.err and missing.err.count("\n") == 1
    directory = run_cli("sync", "--db", db_url, "--export-snapshot", str(tmp_path))
    assert directory.code == 1 and "is a directory" in directory.err and directory.err.count("\n") == 1
    assert "unexpected" not in missing.err + directory.err
    after = sorted(p for p in tmp_path.rglob("*") if not p.name.startswith("export.db"))
    assert after == [p for p in before if not p.name.startswith("export.db")]
