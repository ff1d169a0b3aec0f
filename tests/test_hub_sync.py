"""Hub sync against a local server that speaks the Hub's wire format, driven through huggingface_hub's own HTTP
session; snapshot import/export; derivation; faults, resumption and incremental updates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from catalog.db import open_database
from catalog.db.models import Model, SyncState
from catalog.estimate import params_from_config, params_from_name
from catalog.hub.client import HubClient, HubOfflineError, RetryPolicy
from catalog.hub.derive import Deriver
from catalog.hub.records import MalformedItem, parse_item
from catalog.hub.sync import export_snapshot, import_snapshot, sync_from_hub, sync_status

from .conftest import SHARED, require_shared
from .support.hub_server import FakeHub, Faults, HubServer, Malformed

FAST = RetryPolicy(attempts=8, base_s=0.01, cap_s=0.05, timeout_s=1.0)


@pytest.fixture(scope="module")
def snapshot_hub() -> Iterator[FakeHub]:
    path = SHARED / "hub" / "hf_models_2024-09-20.csv"
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("../shared/hub/hf_models_2024-09-20.csv is missing (CI must provide it)")
        pytest.skip("../shared/hub/hf_models_2024-09-20.csv is not available on this machine")
    yield FakeHub.from_snapshot_csv(path)


@pytest.fixture
def hub(snapshot_hub: FakeHub) -> Iterator[tuple[FakeHub, str]]:
    snapshot_hub.clear_faults()
    snapshot_hub.clear_log()
    snapshot_hub.malformed = None
    with HubServer(snapshot_hub) as server:
        yield snapshot_hub, server.url
    snapshot_hub.clear_faults()
    snapshot_hub.malformed = None


def _expected(hub: FakeHub, task: str, n: int) -> list[str]:
    """The first n models of a task, most downloaded first, as the server orders them (paging as it pages)."""
    params = [("pipeline_tag", task), ("limit", "1000"), ("sort", "downloads")]
    ids: list[str] = []
    cursor = None
    while len(ids) < n:
        items, cursor = hub.list_page(params + ([("cursor", cursor)] if cursor else []))
        ids.extend(r["id"] for r in items)
        if cursor is None:
            break
    return ids[:n]


def _synced_ids(db_url: str, task: str) -> set[str]:
    db = open_database(db_url)
    with db.session() as s:
        ids = set(s.scalars(select(Model.id).where(Model.synced_at.is_not(None), Model.pipeline_tag == task)))
    db.dispose()
    return ids


# ----------------------------------------------------------------------------------------- boundary + derivation


def test_parse_real_model_info_and_derive() -> None:
    raw = json.loads((require_shared("hub/examples") / "01_model_info_google-bert__bert-base-uncased.json").read_text())
    record = parse_item(raw)
    assert record.id == "google-bert/bert-base-uncased"
    assert record.safetensors_total == 110106428 and record.downloads is not None
    deriver = Deriver({"bert": ("bert", "encoder-only")}, {"encoder-only"})
    derived = deriver.derive(record, None)
    values = derived.values
    assert (values["family_id"], values["architecture_id"], values["model_type"]) == ("bert", "encoder-only", "bert")
    assert values["params"] == 110106428 and derived.provenance["params"] == "reported: Hub safetensors total"
    assert values["license"] == "apache-2.0" and derived.languages == ["en"]
    assert values["library"] == "transformers"
    assert derived.tasks == ["fill-mask"]


@pytest.mark.parametrize(
    "raw,reason",
    [
        ({"downloads": 3}, "no id"),
        ({"id": "a/b", "lastModified": "not-a-date"}, "lastModified is not a date"),
        ({"id": "a/b", "downloads": "lots"}, "downloads is not a count"),
        ({"id": "a/b", "tags": "bert"}, "tags is not a list"),
        ("just a string", "not an object"),
    ],
)
def test_malformed_items_are_rejected_one_by_one(raw: object, reason: str) -> None:
    with pytest.raises(MalformedItem, match=reason):
        parse_item(raw)


def test_derivation_sources() -> None:
    deriver = Deriver({"llama": ("llama", "decoder-only")}, {"decoder-only", "encoder-only", "encoder-decoder"})
    from_tag = parse_item({"id": "x/tiny", "tags": ["transformers", "llama", "license:mit", "zh", "en", "tf",
                                                    "base_model:finetune:meta-llama/Llama-2-7b-hf"]})  # fmt: skip
    _, family, architecture, how = deriver.architecture(from_tag)
    assert (family, architecture) == ("llama", "decoder-only") and "model_type tag" in how
    assert deriver.languages(from_tag)[0] == ["zh", "en"]  # 'tf' is a framework, not a language
    assert deriver.base_model(from_tag) == "meta-llama/Llama-2-7b-hf"
    auto = parse_item({"id": "x/y", "transformersInfo": {"auto_model": "AutoModelForSeq2SeqLM"}})
    assert deriver.architecture(auto)[2] == "encoder-decoder"
    unknown = parse_item({"id": "x/z", "tags": ["custom"]})
    assert deriver.architecture(unknown)[2] is None
    card = parse_item({"id": "x/w", "cardData": {"license": "Apache-2.0", "language": ["de"]}, "tags": ["license:mit"]})
    assert deriver.license(card) == ("apache-2.0", "Hub cardData.license")
    assert deriver.languages(card)[0] == ["de"]
    index = parse_item({"id": "x/v", "model-index": [{"name": "v", "results": [{"task": {"type": "token-classification"},
        "dataset": {"name": "conll2003", "split": "test"}, "metrics": [{"type": "f1", "value": 0.91, "verified": True}]}]}]})  # fmt: skip
    [metric] = deriver.reported(index)
    assert (
        metric["metric"] == "f1" and metric["value"] == 0.91 and metric["dataset"] == "conll2003" and metric["verified"]
    )


@pytest.mark.parametrize(
    "name,true_count",
    [
        ("google-bert__bert-base-uncased", 110106428),
        ("sentence-transformers__all-MiniLM-L6-v2", 22713216),
        ("historical/openai-community__gpt2", 124439808),
        ("facebook__bart-large-cnn", 406290432),
    ],
)
def test_params_estimated_from_real_configs(name: str, true_count: int) -> None:
    config = json.loads((require_shared("hub/configs") / f"{name}.json").read_text())
    estimate = params_from_config(config)
    assert estimate is not None and abs(estimate / true_count - 1) < 0.03


def test_params_from_name() -> None:
    assert params_from_name("meta-llama/Llama-2-7b-hf") == 7_000_000_000
    assert params_from_name("HuggingFaceTB/SmolLM2-135M-Instruct") == 135_000_000
    assert params_from_name("mistralai/Mixtral-8x7B-v0.1") is None
    assert params_from_name("google-bert/bert-base-uncased") is None


# ----------------------------------------------------------------------------------------- live sync


def test_sync_token_classification_limit_200(hub, run_cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fake, url = hub
    monkeypatch.setenv("HF_ENDPOINT", url)
    db_url = f"sqlite:///{tmp_path / 'sync.db'}"
    result = run_cli("sync", "--db", db_url, "--task", "ner", "--limit", "200", "--format", "json")
    assert result.code == 0, result.err
    report = result.json()
    # 200 fetched; the curated NER models were already there (catalog.yaml), so they are updates
    assert report["total"]["inserted"] + report["total"]["updated"] == 200 and report["total"]["skipped"] == 0
    expected = set(_expected(fake, "token-classification", 200))
    assert _synced_ids(db_url, "token-classification") == expected
    rows = run_cli("models", "--db", db_url, "--task", "ner", "--limit", "0", "--format", "json").json()
    listed = {r["id"]: r for r in rows}
    assert expected <= set(listed)
    for model_id in expected:
        row = listed[model_id]
        assert row["pipeline_tag"] == "token-classification"
        assert {"family", "architecture", "license", "languages", "downloads"} <= set(row)
    assert sum(1 for m in expected if listed[m]["architecture"]) > 150
    # one listing, one request: 200 < page size
    assert fake.count("/api/models", method="GET") == 1


def test_sync_text_generation_2500_in_three_pages(hub, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake, url = hub
    db = open_database(f"sqlite:///{tmp_path / 'tg.db'}")
    report = sync_from_hub(db, tasks=["text-generation"], limit=2500, endpoint=url)
    assert report.totals().stored == 2500 and report.totals().fetched == 2500
    assert [p for p in fake.request_log if p[1].startswith("/api/models?")].__len__() == 3
    assert report.totals().pages == 3
    with db.session() as s:
        assert len(s.scalars(select(Model.id).where(Model.synced_at.is_not(None))).all()) == 2500
    db.dispose()


def test_faults_end_with_the_same_rows(hub, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake, url = hub
    clean = open_database(f"sqlite:///{tmp_path / 'clean.db'}")
    sync_from_hub(clean, tasks=["token-classification"], limit=200, endpoint=url)
    sync_from_hub(clean, tasks=["text-generation"], limit=2500, endpoint=url)
    fake.faults = Faults(rate=0.2, kinds=("429", "500", "503", "drop", "partial", "stall"), seed=7, retry_after=0,
                         stall_s=1.5)  # fmt: skip
    faulty = open_database(f"sqlite:///{tmp_path / 'faulty.db'}")
    retries = 0
    for task, limit in (("token-classification", 200), ("text-generation", 2500)):
        client = HubClient(url, retry=FAST)
        sync_from_hub(faulty, tasks=[task], limit=limit, client=client)
        retries += client.retries
    assert fake.fault_log, "no faults were injected"
    assert retries >= 1

    def rows(db):  # type: ignore[no-untyped-def]
        with db.session() as s:
            return sorted(
                (m.id, m.pipeline_tag, m.downloads, m.license, m.architecture_id, m.params, tuple(m.language_codes))
                for m in s.scalars(select(Model).where(Model.synced_at.is_not(None)))
            )

    assert rows(faulty) == rows(clean)
    assert len(rows(clean)) == 2700
    clean.dispose()
    faulty.dispose()


def test_exhausted_retries_say_how_far_it_got(hub, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from catalog.hub.client import HubUnavailableError
    from catalog.hub.sync import _Silent

    fake, url = hub

    class BreakAfterFirstListing(_Silent):
        def listing_finished(self, label: str) -> None:
            fake.fail_next(100, "503")  # the Hub goes down once the first task is done

    db = open_database(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(
        HubUnavailableError,
        match=r"HTTP 503 after 8 tries.*while syncing text-generation \(page 1\); 50 models synced so far are saved",
    ):
        sync_from_hub(db, tasks=["token-classification", "text-generation"], limit=50,
                      client=HubClient(url, retry=FAST), reporter=BreakAfterFirstListing())  # fmt: skip
    fake.clear_faults()
    with db.session() as s:
        assert len(s.scalars(select(Model.id).where(Model.synced_at.is_not(None))).all()) == 50
    db.dispose()


def test_malformed_items_are_skipped_and_counted(hub, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake, url = hub
    fake.malformed = Malformed(kinds=("missing_id", "bad_date", "wrong_type"), every=10, first=3)
    db = open_database(f"sqlite:///{tmp_path / 'm.db'}")
    report = sync_from_hub(db, tasks=["token-classification"], limit=100, endpoint=url)
    total = report.totals()
    assert total.skipped == 10 and total.stored == 90
    assert set(total.skip_reasons) == {"item has no id", "lastModified is not a date", "downloads is not a count"}
    db.dispose()


def test_resync_updates_changed_rows_and_leaves_the_rest(hub, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake, url = hub
    db = open_database(f"sqlite:///{tmp_path / 'inc.db'}")
    sync_from_hub(db, tasks=["token-classification"], limit=100, endpoint=url)
    with db.session() as s:
        before = {
            m.id: (m.updated_at, m.downloads) for m in s.scalars(select(Model).where(Model.synced_at.is_not(None)))
        }
    again = sync_from_hub(db, tasks=["token-classification"], limit=100, endpoint=url).totals()
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 100)
    target = sorted(before)[5]
    record = fake.get(target)
    original = record["downloads"]
    record["downloads"] = original + 1  # keep its rank: +1 on a distinct count
    try:
        third = sync_from_hub(db, tasks=["token-classification"], limit=100, endpoint=url).totals()
    finally:
        record["downloads"] = original
    assert (third.inserted, third.updated, third.unchanged) == (0, 1, 99)
    with db.session() as s:
        after = {
            m.id: (m.updated_at, m.downloads) for m in s.scalars(select(Model).where(Model.synced_at.is_not(None)))
        }
    assert after[target][1] == original + 1
    assert {k: v for k, v in after.items() if k != target} == {k: v for k, v in before.items() if k != target}
    db.dispose()


def test_since_stops_paging_at_older_models(hub, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime

    _, url = hub
    db = open_database(f"sqlite:///{tmp_path / 'since.db'}")
    since = datetime(2024, 9, 1)
    report = sync_from_hub(db, tasks=["text-generation"], since=since, endpoint=url)
    with db.session() as s:
        stamps = list(s.scalars(select(Model.hub_last_modified).where(Model.synced_at.is_not(None))))
    assert stamps and all(stamp >= since for stamp in stamps)
    assert report.totals().pages == 1  # the first page already reaches older models
    db.dispose()


def test_curated_models_keep_reviewed_facts(hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake, url = hub
    db = open_database(f"sqlite:///{tmp_path / 'cur.db'}")  # the real catalog.yaml
    with db.session() as s:
        curated = s.get(Model, "dslim/bert-base-NER")
        params, family = curated.params, curated.family_id
    sync_from_hub(db, tasks=["token-classification"], limit=20, endpoint=url)
    with db.session() as s:
        model = s.get(Model, "dslim/bert-base-NER")
        assert model.curated and model.params == params and model.family_id == family
        assert model.synced_at is not None and model.downloads == fake.get("dslim/bert-base-NER")["downloads"]
        assert "at sync time" in model.provenance["downloads"]
    db.dispose()


def test_offline_mode_fails_at_once_naming_snapshots(run_cli, mini_taxonomy: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    result = run_cli("sync", "--task", "ner")
    assert time.perf_counter() - start < 5
    assert result.code == 1
    assert "HF_HUB_OFFLINE" in result.err and "--from-snapshot" in result.err
    with pytest.raises(HubOfflineError):
        HubClient("http://127.0.0.1:9")


def test_unknown_task_and_bad_options(run_cli, mini_taxonomy: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("sync", "--task", "nerr").err.startswith("Error: Unknown task 'nerr'. Did you mean: ner?")
    assert run_cli("sync", "--limit", "0").code == 1
    assert run_cli("sync", "--since", "yesterday").code == 2


def test_token_is_sent_but_never_stored_or_printed(
    hub, run_cli, mini_taxonomy: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    fake, url = hub
    secret = "hf_" + "s3cr3t" * 6
    monkeypatch.setenv("HF_TOKEN", secret)
    monkeypatch.setenv("HF_ENDPOINT", url)
    db_path = tmp_path / "tok.db"
    result = run_cli("sync", "--db", f"sqlite:///{db_path}", "--task", "ner", "--limit", "5")
    assert result.code == 0, result.err
    assert fake.last_headers.get("authorization") == f"Bearer {secret}"
    assert secret not in result.out + result.err
    assert secret.encode() not in db_path.read_bytes()


def test_kill_9_mid_sync_then_resume_gives_exactly_the_expected_rows(hub, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake, url = hub
    db_url = f"sqlite:///{tmp_path / 'kill.db'}"
    expected = set(_expected(fake, "text-generation", 2500))
    env = dict(os.environ) | {"HF_ENDPOINT": url, "CATALOG_DB_URL": db_url}
    env.pop("HF_HUB_OFFLINE", None)
    command = [
        sys.executable,
        "-m",
        "catalog",
        "sync",
        "--task",
        "text-generation",
        "--limit",
        "2500",
        "--format",
        "json",
    ]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Let the first page land, then stall the second request and kill the process while it waits.
    deadline = time.time() + 60
    while time.time() < deadline:
        if fake.count("/api/models", method="GET", prefix=True) >= 1:
            fake.fail_next(1, "stall", stall_s=30)
            break
        time.sleep(0.01)
    while time.time() < deadline:
        try:
            check = open_database(db_url)
            with check.session() as s:
                state = s.scalars(select(SyncState)).first()
                pages = state.pages if state else 0
            check.dispose()
        except Exception:
            pages = 0
        if pages >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    fake.clear_faults()
    partial = _synced_ids(db_url, "text-generation")
    assert 0 < len(partial) < 2500 and partial <= expected
    db = open_database(db_url)
    report = sync_from_hub(db, tasks=["text-generation"], limit=2500, endpoint=url)
    assert report.listings[0].resumed
    db.dispose()
    assert _synced_ids(db_url, "text-generation") == expected


# ----------------------------------------------------------------------------------------- snapshots + status


def test_import_the_real_csv_snapshot(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_path = require_shared("hub/hf_models_2024-09-20.csv")
    db_url = f"sqlite:///{tmp_path / 'snap.db'}"
    result = run_cli("sync", "--db", db_url, "--from-snapshot", str(csv_path), "--format", "json")
    assert result.code == 0, result.err
    report = result.json()
    total = report["total"]
    assert total["inserted"] + total["updated"] == 9715 and total["skipped"] == 0
    # Measured on this snapshot: 77% of all models, 94% of those under the catalog's tasks (the rest are mostly
    # diffusion models, which no architecture kind of the taxonomy describes).
    assert total["architecture_coverage"] > 0.75
    assert report["taxonomy_task_architecture_coverage"] > 0.9
    ner = run_cli("models", "--db", db_url, "--task", "ner", "--limit", "0", "--format", "json").json()
    assert len([r for r in ner if r["pipeline_tag"] == "token-classification"]) >= 215
    mit = run_cli("models", "--db", db_url, "--license", "mit", "--limit", "0", "--format", "json").json()
    assert mit and all(r["license"] == "mit" for r in mit)
    status = run_cli("sync", "--db", db_url, "--status", "--format", "json").json()
    by_task = {row["task"]: row for row in status}
    assert by_task["token-classification"]["synced"] >= 215


def test_jsonl_export_import_round_trip(hub, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, url = hub
    source = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    sync_from_hub(source, tasks=["token-classification", "text-generation"], limit=120, endpoint=url)
    path = tmp_path / "snap.jsonl"
    count = export_snapshot(source, path)
    target = open_database(f"sqlite:///{tmp_path / 'b.db'}")
    report = import_snapshot(target, path)
    assert report.totals().stored == count

    exported = {json.loads(line)["id"] for line in path.read_text().splitlines()}
    assert len(exported) == count >= 240

    def facts(db):  # type: ignore[no-untyped-def]
        with db.session() as s:
            return sorted(
                (m.id, m.pipeline_tag, m.downloads, m.license, m.family_id, m.architecture_id, m.params,
                 tuple(m.language_codes), tuple(m.tags), m.hub_last_modified)
                for m in s.scalars(select(Model).where(Model.id.in_(exported)))
            )  # fmt: skip

    assert facts(source) == facts(target)
    source.dispose()
    target.dispose()


def test_bad_snapshot_files(run_cli, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = run_cli("sync", "--from-snapshot", str(tmp_path / "nope.jsonl"))
    assert missing.code == 1 and "not found" in missing.err
    odd = tmp_path / "snap.txt"
    odd.write_text("x")
    assert "unknown snapshot format" in run_cli("sync", "--from-snapshot", str(odd)).err
    lines = tmp_path / "mixed.jsonl"
    lines.write_text('{"id": "a/one", "tags": []}\nnot json\n{"id": "a/two", "downloads": "many"}\n{"id": "a/three"}\n')
    result = run_cli("sync", "--from-snapshot", str(lines), "--format", "json")
    assert result.code == 0
    assert result.json()["total"]["inserted"] == 2 and result.json()["total"]["skipped"] == 2


def test_status_table(run_cli, mini_taxonomy: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("sync", "--status")
    assert result.code == 0 and "token-classification" in result.out
    rows = sync_status(open_database())
    assert {r.task for r in rows} >= {"token-classification", "text-generation"}


def test_author_search_and_sort_reach_the_hub(hub, mini_taxonomy: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake, url = hub
    db = open_database(f"sqlite:///{tmp_path / 'filters.db'}")
    sync_from_hub(db, tasks=["text-generation"], author="meta-llama", sort="likes", limit=30, endpoint=url)
    query = next(target for _, target, _ in fake.request_log if target.startswith("/api/models?"))
    assert "author=meta-llama" in query and "sort=likes" in query and "pipeline_tag=text-generation" in query
    assert "expand=safetensors" in query and "expand=cardData" in query
    with db.session() as s:
        ids = s.scalars(select(Model.id).where(Model.synced_at.is_not(None))).all()
    assert ids and all(i.startswith("meta-llama/") for i in ids)
    fake.clear_log()
    sync_from_hub(db, tasks=["text-generation"], search="gpt2", sort="trending", limit=10, endpoint=url)
    query = next(target for _, target, _ in fake.request_log if target.startswith("/api/models?"))
    assert "search=gpt2" in query and "sort=trendingScore" in query
    db.dispose()


def test_token_file_in_hf_home_is_used(hub, mini_taxonomy: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fake, url = hub
    home = tmp_path / "hf-home-with-token"
    home.mkdir()
    (home / "token").write_text("hf_fromthehomefile123")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    db = open_database(f"sqlite:///{tmp_path / 'home.db'}")
    sync_from_hub(db, tasks=["token-classification"], limit=3, endpoint=url)
    assert fake.last_headers.get("authorization") == "Bearer hf_fromthehomefile123"
    db.dispose()
