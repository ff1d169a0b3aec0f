"""Tests of the fake Hub, driven as far as possible by the real ``huggingface_hub`` client.

The client is always given ``endpoint=server.url`` explicitly: ``huggingface_hub`` reads
``HF_ENDPOINT`` once, at import time, into ``huggingface_hub.constants.ENDPOINT``, so setting the
environment variable inside a test would have no effect.
"""

from __future__ import annotations

import base64
import csv
import http.client
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from huggingface_hub import HfApi, constants, hf_hub_download
from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

from .hub_server import (
    LIST_DEFAULT_FIELDS,
    FakeHub,
    Faults,
    HubServer,
    Malformed,
    git_blob_sha1,
    object_id,
    synthetic_records,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
# tests/support/ -> tests -> repo -> /work; the snapshot is read in place, never copied.
SNAPSHOT_CSV = Path(__file__).resolve().parents[3] / "shared" / "hub" / "hf_models_2024-09-20.csv"
LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


# --------------------------------------------------------------------------- helpers and fixtures


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE=1 in a developer's shell would make every client call fail before sending."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def raw(
    server: HubServer, target: str, method: str = "GET", *, timeout: float = 5.0, headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request without any client-side retry, so statuses and broken connections are visible."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(method, target, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def next_link(headers: http.client.HTTPMessage) -> str | None:
    match = LINK_NEXT.search(headers.get("Link") or "")
    return match.group(1) if match else None


def list_pages(server: HubServer, query: str) -> list[list[dict[str, Any]]]:
    """Follow Link headers from ``/api/models?query`` to the end; every page must be a 200."""
    pages: list[list[dict[str, Any]]] = []
    target: str | None = f"/api/models?{query}"
    while target is not None:
        status, headers, body = raw(server, target)
        assert status == 200, body
        pages.append(json.loads(body))
        link = next_link(headers)
        if link is None:
            target = None
        else:
            parts = urlsplit(link)
            assert parts.netloc == f"127.0.0.1:{server.port}"
            target = f"{parts.path}?{parts.query}"
    return pages


def require_snapshot() -> Path:
    """Skip without the snapshot CSV -- except in CI, where its absence is a failure."""
    if not SNAPSHOT_CSV.is_file():
        reason = f"Hub snapshot CSV not found at {SNAPSHOT_CSV} (it is read in place, not vendored)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return SNAPSHOT_CSV


@pytest.fixture(scope="module")
def snapshot_hub() -> FakeHub:
    return FakeHub.from_snapshot_csv(require_snapshot())


@pytest.fixture(scope="module")
def _snapshot_server(snapshot_hub: FakeHub) -> Iterator[HubServer]:
    with HubServer(snapshot_hub) as server:
        yield server


@pytest.fixture
def snap(snapshot_hub: FakeHub, _snapshot_server: HubServer) -> Iterator[tuple[FakeHub, HubServer]]:
    """The snapshot hub and its server, with a clean log and no faults for each test."""
    snapshot_hub.clear_faults()
    snapshot_hub.clear_log()
    yield snapshot_hub, _snapshot_server
    snapshot_hub.clear_faults()
    snapshot_hub.redirect_resolve = False


@pytest.fixture
def small() -> Iterator[tuple[FakeHub, HubServer]]:
    """A fresh 50-model synthetic hub (safe to mutate)."""
    hub = FakeHub.from_records(synthetic_records(50, seed=3))
    with HubServer(hub) as server:
        yield hub, server


def first_small_repo() -> str:
    """The id of the first model of the ``small`` fixture's hub."""
    return str(next(synthetic_records(1, seed=3))["id"])


def csv_rows() -> list[dict[str, str]]:
    with SNAPSHOT_CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------- listing (real client)


def test_token_classification_count_matches_the_csv(snap: tuple[FakeHub, HubServer]) -> None:
    hub, server = snap
    expected = {row["modelId"] for row in csv_rows() if row["pipeline_tag"] == "token-classification"}
    assert len(expected) == 215  # counted from the CSV's pipeline_tag column

    models = list(HfApi(endpoint=server.url, token=False).list_models(pipeline_tag="token-classification", limit=None))

    assert len(models) == 215
    assert {m.id for m in models} == expected
    assert all(m.pipeline_tag == "token-classification" for m in models)
    assert hub.count("/api/models") == 1  # 215 < 1000: a single page, no Link header


def test_limit_2500_takes_three_requests_of_at_most_1000(snap: tuple[FakeHub, HubServer]) -> None:
    hub, server = snap
    models = list(HfApi(endpoint=server.url, token=False).list_models(pipeline_tag="text-generation", limit=2500))

    assert len(models) == 2500
    assert len({m.id for m in models}) == 2500
    assert hub.count("/api/models") == 3
    queries = [parse_qs(urlsplit(target).query) for _, target, _ in hub.request_log]
    assert all(q["limit"] == ["2500"] and q["pipeline_tag"] == ["text-generation"] for q in queries)
    assert ["cursor" in q for q in queries] == [False, True, True]
    # default sort (trendingScore) falls back to downloads for the snapshot, descending
    downloads = [m.downloads or 0 for m in models]
    assert downloads == sorted(downloads, reverse=True)


def test_pages_are_capped_at_1000_and_the_last_has_no_link(snap: tuple[FakeHub, HubServer]) -> None:
    _, server = snap
    total = sum(1 for row in csv_rows() if row["pipeline_tag"] == "text-generation")
    assert total == 3856

    pages = list_pages(server, "pipeline_tag=text-generation&limit=5000")

    assert [len(p) for p in pages] == [1000, 1000, 1000, 856]
    ids = [item["id"] for page in pages for item in page]
    assert len(set(ids)) == total


def test_link_header_repeats_the_query_and_carries_a_hub_shaped_cursor(snap: tuple[FakeHub, HubServer]) -> None:
    _, server = snap
    status, headers, body = raw(server, "/api/models?search=bert&filter=fill-mask&limit=5&sort=downloads&direction=-1")
    assert status == 200
    link = next_link(headers)
    assert link is not None
    query = parse_qs(urlsplit(link).query)
    assert {k: v for k, v in query.items() if k != "cursor"} == {
        "search": ["bert"],
        "filter": ["fill-mask"],
        "limit": ["5"],
        "sort": ["downloads"],
        "direction": ["-1"],
    }
    predicate = json.loads(base64.b64decode(query["cursor"][0]))
    last = json.loads(body)[-1]
    assert predicate == {
        "$or": [
            {"downloads": last["downloads"], "_id": {"$gt": last["_id"]}},
            {"downloads": {"$lt": last["downloads"]}},
            {"downloads": None},
        ]
    }


def test_sort_and_direction(snap: tuple[FakeHub, HubServer]) -> None:
    _, server = snap
    api = HfApi(endpoint=server.url, token=False)

    top = list(api.list_models(sort="downloads", limit=5))
    assert top[0].id == "MIT/ast-finetuned-audioset-10-10-0.4593"  # the CSV's most downloaded model
    assert [m.downloads for m in top] == sorted((m.downloads or 0 for m in top), reverse=True)

    newest = list(api.list_models(sort="last_modified", limit=50, expand=["lastModified"]))
    stamps = [m.last_modified for m in newest]
    assert None not in stamps and stamps == sorted(stamps, reverse=True)  # type: ignore[type-var]

    # filter= matches tags (not only the pipeline tag), like the Hub
    tagged = sum(1 for row in csv_rows() if "'translation'" in row["tags"])
    ascending = [
        item["downloads"]
        for page in list_pages(server, "sort=downloads&direction=1&limit=1000&filter=translation")
        for item in page
    ]
    assert len(ascending) == tagged and ascending == sorted(ascending)


def test_missing_sort_values_sort_last_with_id_tie_breaker(snap: tuple[FakeHub, HubServer]) -> None:
    _, server = snap
    # The snapshot has no likes at all: every record ties, so _id alone orders them, across pages.
    tagged = sum(1 for row in csv_rows() if "'summarization'" in row["tags"])
    pages = list_pages(server, "sort=likes&filter=summarization&limit=10")
    ids = [item["_id"] for page in pages for item in page]
    assert len(pages) == (tagged + 9) // 10 and len(ids) == tagged > 10
    assert ids == sorted(ids)


def test_expand_returns_only_the_requested_fields(snap: tuple[FakeHub, HubServer]) -> None:
    _, server = snap
    status, _, body = raw(server, "/api/models?limit=3&expand=downloads&expand=author")
    assert status == 200
    assert all(set(item) == {"_id", "id", "modelId", "downloads", "author"} for item in json.loads(body))

    models = list(HfApi(endpoint=server.url, token=False).list_models(limit=3, expand=["downloads"]))
    assert all(m.downloads is not None and m.tags is None and m.pipeline_tag is None for m in models)


def test_default_full_config_and_carddata_fields(snap: tuple[FakeHub, HubServer]) -> None:
    _, server = snap
    _, _, body = raw(server, "/api/models?limit=5")
    default_items = json.loads(body)
    assert all(set(item) <= LIST_DEFAULT_FIELDS for item in default_items)
    # absent from the snapshot, so absent from the API (never invented)
    assert not any({"likes", "createdAt", "library_name"} & set(item) for item in default_items)

    _, _, body = raw(server, "/api/models?limit=5&full=true")
    assert all({"sha", "lastModified", "author"} <= set(item) for item in json.loads(body))


def test_filters_search_and_author(snap: tuple[FakeHub, HubServer]) -> None:
    _, server = snap
    api = HfApi(endpoint=server.url, token=False)

    mit_ner = list(api.list_models(filter=["token-classification", "license:mit"]))
    assert mit_ner and all("license:mit" in (m.tags or []) for m in mit_ner)
    assert all("token-classification" in (m.tags or []) for m in mit_ner)

    berts = list(api.list_models(search="BERT", limit=20))
    assert len(berts) == 20 and all("bert" in m.id.lower() for m in berts)

    google = list(api.list_models(author="google-bert"))
    assert google and all(m.id.startswith("google-bert/") for m in google)


# --------------------------------------------------------------------------- model_info and files


def test_model_info(snap: tuple[FakeHub, HubServer]) -> None:
    _, server = snap
    api = HfApi(endpoint=server.url, token=False)
    row = next(r for r in csv_rows() if r["modelId"] == "google-bert/bert-base-uncased")

    info = api.model_info("google-bert/bert-base-uncased")
    assert info.sha == row["sha"] == "86b5e0934494bd15c9632b12f734a8a67f723594"
    assert info.downloads == int(row["downloads"])
    assert info.pipeline_tag == "fill-mask" and "license:apache-2.0" in (info.tags or [])
    assert info.last_modified is not None and info.last_modified.isoformat() == "2024-02-19T11:06:12+00:00"
    assert info.likes is None and info.created_at is None  # not in the snapshot

    assert api.model_info("google-bert/bert-base-uncased", revision=row["sha"]).sha == row["sha"]
    slim = api.model_info("google-bert/bert-base-uncased", expand=["downloads"])
    assert slim.downloads == int(row["downloads"]) and slim.sha is None and slim.tags is None

    with pytest.raises(RepositoryNotFoundError):
        api.model_info("nobody/nothing")
    with pytest.raises(RevisionNotFoundError):
        api.model_info("google-bert/bert-base-uncased", revision="v999")


def test_model_info_404_is_shaped_like_the_hubs(snap: tuple[FakeHub, HubServer]) -> None:
    _, server = snap
    status, headers, body = raw(server, "/api/models/nobody/nothing")
    assert status == 404
    assert headers["X-Error-Code"] == "RepoNotFound"
    assert json.loads(body) == {"error": "Repository not found"}


def test_hf_hub_download_of_an_added_config(snap: tuple[FakeHub, HubServer], tmp_path: Path) -> None:
    hub, server = snap
    repo = "google-bert/bert-base-uncased"
    content = json.dumps({"architectures": ["BertForMaskedLM"], "model_type": "bert"}, indent=2) + "\n"
    etag = hub.add_file(repo, "config.json", content)
    assert etag == git_blob_sha1(content.encode())

    path = hf_hub_download(repo, "config.json", cache_dir=tmp_path, endpoint=server.url, token=False)
    assert Path(path).read_text() == content
    assert f"/snapshots/{hub.commit_for(repo)}/config.json" in path.replace(os.sep, "/")
    assert [(m, s) for m, _, s in hub.request_log] == [("HEAD", 200), ("GET", 200)]

    hub.clear_log()
    again = hf_hub_download(repo, "config.json", cache_dir=tmp_path, endpoint=server.url, token=False)
    assert again == path and [m for m, _, _ in hub.request_log] == ["HEAD"]  # cached blob, same ETag

    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(repo, "missing.json", cache_dir=tmp_path, endpoint=server.url, token=False)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("nobody/nothing", "config.json", cache_dir=tmp_path, endpoint=server.url, token=False)


def test_resolve_headers_redirect_and_range(small: tuple[FakeHub, HubServer], tmp_path: Path) -> None:
    hub, server = small
    repo = first_small_repo()
    data = bytes(range(256)) * 4
    hub.add_file(repo, "weights/model.bin", data)
    commit = hub.commit_for(repo)

    status, headers, _ = raw(server, f"/{repo}/resolve/main/weights/model.bin", "HEAD")
    assert status == 200
    assert headers["ETag"] == f'"{git_blob_sha1(data)}"'
    assert headers["X-Repo-Commit"] == commit and headers["Content-Length"] == str(len(data))

    status, headers, body = raw(server, f"/{repo}/resolve/{commit}/weights/model.bin", headers={"Range": "bytes=1000-"})
    assert status == 206 and body == data[1000:] and headers["Content-Range"] == f"bytes 1000-1023/{len(data)}"

    status, headers, _ = raw(server, f"/{repo}/resolve/main/nothing.bin", "HEAD")
    assert status == 404 and headers["X-Error-Code"] == "EntryNotFound" and headers["X-Repo-Commit"] == commit

    hub.redirect_resolve = True
    status, headers, _ = raw(server, f"/{repo}/resolve/main/weights/model.bin", "HEAD")
    assert status == 307 and headers["Location"] == f"/{repo}/resolve/{commit}/weights/model.bin"
    path = hf_hub_download(repo, "weights/model.bin", cache_dir=tmp_path, endpoint=server.url, token=False)
    assert Path(path).read_bytes() == data
    assert [(m, s) for m, _, s in hub.request_log[-3:]] == [("HEAD", 307), ("HEAD", 200), ("GET", 200)]


# --------------------------------------------------------------------------- fault injection (raw HTTP)


@pytest.mark.parametrize("kind", ["500", "502", "503", "504"])
def test_server_error_faults(small: tuple[FakeHub, HubServer], kind: str) -> None:
    hub, server = small
    hub.fail_next(1, kind)
    status, _, body = raw(server, "/api/models?limit=1")
    assert status == int(kind) and "error" in json.loads(body)
    assert raw(server, "/api/models?limit=1")[0] == 200  # exactly one failure
    assert [s for _, _, s in hub.request_log] == [int(kind), 200]
    assert hub.fault_log == [("/api/models?limit=1", kind)]


def test_429_carries_retry_after(small: tuple[FakeHub, HubServer]) -> None:
    hub, server = small
    hub.fail_next(2, "429", retry_after=7)
    for _ in range(2):
        status, headers, _ = raw(server, "/api/models")
        assert status == 429 and headers["Retry-After"] == "7"
    assert hub.pending_faults == 0


def test_drop_and_partial_break_the_connection(small: tuple[FakeHub, HubServer]) -> None:
    hub, server = small
    hub.fail_next(1, "drop")
    with pytest.raises(http.client.RemoteDisconnected):
        raw(server, "/api/models")
    hub.fail_next(1, "partial")
    with pytest.raises(http.client.IncompleteRead):
        raw(server, "/api/models")
    assert [s for _, _, s in hub.request_log] == [0, 0]


def test_stall_outlasts_a_short_timeout_but_is_bounded(small: tuple[FakeHub, HubServer]) -> None:
    hub, server = small
    hub.fail_next(1, "stall", stall_s=0.6)
    with pytest.raises(socket.timeout):
        raw(server, "/api/models", timeout=0.2)
    hub.fail_next(1, "stall", stall_s=0.3)
    started = time.monotonic()
    with pytest.raises(http.client.RemoteDisconnected):
        raw(server, "/api/models", timeout=5)
    assert 0.25 < time.monotonic() - started < 3


def test_faults_target_paths_and_methods(small: tuple[FakeHub, HubServer]) -> None:
    hub, server = small
    repo = first_small_repo()
    hub.add_file(repo, "config.json", "{}")
    hub.fail_next(1, "503", path_prefix=f"/{repo}/resolve/", method="GET")
    assert raw(server, "/api/models?limit=1")[0] == 200
    assert raw(server, f"/{repo}/resolve/main/config.json", "HEAD")[0] == 200
    assert raw(server, f"/{repo}/resolve/main/config.json")[0] == 503


def test_random_faults_are_seeded_and_rate_bound(small: tuple[FakeHub, HubServer]) -> None:
    hub, server = small

    def run(seed: int) -> list[int]:
        hub.clear_log()
        hub.faults = Faults(rate=0.3, kinds=("429", "500", "503", "drop", "partial"), seed=seed)
        statuses = []
        for _ in range(60):
            try:
                statuses.append(raw(server, "/api/models?limit=2")[0])
            except (http.client.HTTPException, ConnectionError):
                statuses.append(0)
        return statuses

    first, second, other = run(1), run(1), run(2)
    assert first == second and first != other
    failures = sum(s != 200 for s in first)
    assert 6 <= failures <= 30  # ~18 expected at rate 0.3
    assert {s for s in first} <= {200, 429, 500, 503, 0}

    hub.faults = Faults(rate=0.0)
    assert raw(server, "/api/models?limit=1")[0] == 200
    with pytest.raises(ValueError):
        Faults(kinds=("418",))


# --------------------------------------------------------------------------- real client under faults


def test_client_retries_through_a_503_and_a_dropped_page(small: tuple[FakeHub, HubServer]) -> None:
    hub, server = small
    hub.page_max = 20  # instance override: 50 models -> pages of 20, 20, 10
    hub.fail_next(1, "503")
    models = HfApi(endpoint=server.url, token=False).list_models()  # lazy: one page per 20 items
    first_page = list(itertools.islice(models, 20))  # http_backoff slept 1 s after the 503
    hub.fail_next(1, "drop")
    rest = list(models)  # the drop on page 2 costs another 1 s
    assert len({m.id for m in first_page + rest}) == 50
    assert [s for _, _, s in hub.request_log] == [503, 200, 0, 200, 200]


def test_hf_hub_download_retries_a_failed_head(small: tuple[FakeHub, HubServer], tmp_path: Path) -> None:
    hub, server = small
    repo = first_small_repo()
    hub.add_file(repo, "config.json", '{"model_type": "bert"}')
    hub.fail_next(1, "503", method="HEAD")
    path = hf_hub_download(repo, "config.json", cache_dir=tmp_path, endpoint=server.url, token=False)
    assert json.loads(Path(path).read_text()) == {"model_type": "bert"}
    assert [(m, s) for m, _, s in hub.request_log] == [("HEAD", 503), ("HEAD", 200), ("GET", 200)]


# --------------------------------------------------------------------------- malformed items


def test_malformed_items_appear_where_asked(small: tuple[FakeHub, HubServer]) -> None:
    hub, server = small
    hub.malformed = Malformed(every=3)
    _, _, body = raw(server, "/api/models?limit=9&full=true")
    items = json.loads(body)
    assert "id" not in items[0]
    assert items[3]["lastModified"] == "not-a-date"
    assert items[6]["downloads"] == "lots"
    assert all("id" in item and isinstance(item["downloads"], int) for i, item in enumerate(items) if i % 3)
    assert hub.get(items[1]["id"]) is not None  # stored records stay intact
    assert all(isinstance(hub.get(r["id"])["downloads"], int) for r in items if "id" in r)  # type: ignore[index]


def test_how_the_client_reacts_to_malformed_items(small: tuple[FakeHub, HubServer]) -> None:
    """Documents huggingface_hub 2.4: no validation except id (KeyError) and dates (ValueError)."""
    hub, server = small
    api = HfApi(endpoint=server.url, token=False)

    hub.malformed = Malformed(kinds=("wrong_type",), every=2)
    downloads: list[Any] = [m.downloads for m in api.list_models(limit=3)]
    assert downloads[0] == "lots" and isinstance(downloads[1], int)

    hub.malformed = Malformed(kinds=("bad_date",), every=2)
    with pytest.raises(ValueError, match="not-a-date"):
        list(api.list_models(limit=3))

    hub.malformed = Malformed(kinds=("missing_id",), every=2, first=1)
    seen: list[str] = []
    with pytest.raises(KeyError):
        seen.extend(m.id for m in api.list_models(limit=3))
    assert len(seen) == 1  # the generator dies mid-page


# --------------------------------------------------------------------------- bad requests


def test_bad_queries_get_400_and_unknown_paths_404(small: tuple[FakeHub, HubServer]) -> None:
    _, server = small
    for query in ("sort=stars", "direction=2", "limit=0", "limit=abc", "cursor=not-base64!!"):
        assert raw(server, f"/api/models?{query}")[0] == 400, query
    assert raw(server, "/api/spaces")[0] == 404


# --------------------------------------------------------------------------- records and loaders


def test_snapshot_records_hold_only_what_the_csv_has(snapshot_hub: FakeHub) -> None:
    record = snapshot_hub.get("google-bert/bert-base-uncased")
    assert record is not None
    assert record["_id"] == object_id("google-bert/bert-base-uncased") and len(record["_id"]) == 24
    assert record["modelId"] == record["id"]
    assert record["lastModified"] == "2024-02-19T11:06:12.000Z"
    assert record["private"] is False and record["author"] == "google-bert"
    assert not {"likes", "createdAt", "library_name", "config", "cardData"} & set(record)
    assert len(snapshot_hub) == 9715


def test_derive_library_name_is_opt_in() -> None:
    hub = FakeHub.from_snapshot_csv(require_snapshot(), derive_library_name=True)
    record = hub.get("google-bert/bert-base-uncased")
    assert record is not None and record["library_name"] == "transformers"


def test_from_records_normalizes_ids() -> None:
    hub = FakeHub.from_records([{"modelId": "a/b", "downloads": 1}, {"id": "a/b", "downloads": 2}])
    assert len(hub) == 1
    assert hub.get("a/b") == {"_id": object_id("a/b"), "id": "a/b", "downloads": 2, "modelId": "a/b"}
    with pytest.raises(ValueError):
        FakeHub.from_records([{"downloads": 3}])


def test_synthetic_records_are_varied_and_deterministic() -> None:
    sample = list(synthetic_records(2000, seed=7))
    assert sample[:5] == list(synthetic_records(5, seed=7))
    assert sample[0] != next(iter(synthetic_records(1, seed=8)))
    assert len({r["id"] for r in sample}) == 2000
    assert len({r["pipeline_tag"] for r in sample}) >= 10
    assert len({r["config"].get("model_type") for r in sample}) >= 15
    assert all(any(t.startswith("license:") for t in r["tags"]) for r in sample)
    assert len({r["createdAt"][:4] for r in sample}) == 3  # 2022..2024
    assert all(r["createdAt"] <= r["lastModified"] for r in sample)


def test_synthetic_100k_streams_quickly() -> None:
    records = synthetic_records(100_000)
    assert iter(records) is records  # a generator: nothing is built up front
    started = time.monotonic()
    count = sum(1 for _ in records)
    assert count == 100_000
    assert time.monotonic() - started < 30  # ~2 s on a laptop-class CPU


def test_paging_100k_models_with_the_real_client() -> None:
    hub = FakeHub.from_records(synthetic_records(100_000, seed=1))
    with HubServer(hub) as server:
        api = HfApi(endpoint=server.url, token=False)
        started = time.monotonic()
        models = list(api.list_models(sort="downloads", limit=2500))
        ner = list(itertools.islice(api.list_models(filter="token-classification", author="jdoe"), 3000))
        elapsed = time.monotonic() - started
    assert len(models) == 2500 and hub.count("/api/models") == 3 + (len(ner) + 999) // 1000
    downloads = [m.downloads or 0 for m in models]
    assert downloads == sorted(downloads, reverse=True)
    assert ner and all(m.pipeline_tag == "token-classification" and m.id.startswith("jdoe/") for m in ner)
    assert elapsed < 30


# --------------------------------------------------------------------------- server lifecycle and CLI


def test_server_binds_loopback_and_stops_promptly_even_mid_stall() -> None:
    hub = FakeHub.from_records(synthetic_records(3))
    server = HubServer(hub).start()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
    hub.fail_next(1, "stall", stall_s=25)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/api/models")
    time.sleep(0.2)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 3
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        conn.getresponse()
    conn.close()
    with pytest.raises(RuntimeError):
        _ = server.url


def test_cli_serves_synthetic_models() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "tests.support.hub_server", "--synthetic", "25"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        watchdog = threading.Timer(30, proc.kill)  # never let a stuck child hang the suite
        watchdog.start()
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            assert match, f"no URL printed; stdout={line!r}"
            conn = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=5)
            conn.request("GET", "/api/models?limit=100")
            assert len(json.loads(conn.getresponse().read())) == 25
            conn.close()
        finally:
            watchdog.cancel()
            proc.terminate()
            proc.communicate(timeout=10)
