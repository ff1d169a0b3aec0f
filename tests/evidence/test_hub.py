"""Evidence from the Hub: model-index results stored by `catalog sync`, and the Open LLM Leaderboard contents
dataset read through huggingface_hub from a local server that speaks the Hub's wire format."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from catalog.db import open_database
from catalog.db.schema import evidence, evidence_sources
from catalog.evidence.api import import_evidence
from tests.support.hub_server import FakeHub, HubServer


def _card(value: float, verified: bool = True) -> dict[str, Any]:
    return {"model-index": [{"name": "m", "results": [{
        "task": {"type": "token-classification"},
        "dataset": {"type": "conll2003", "name": "conll2003", "split": "test"},
        "metrics": [{"type": "f1", "value": value, "verified": verified}, {"type": "loss", "value": 0.1}],
    }]}]}  # fmt: skip


def _record(model_id: str, downloads: int, card: dict[str, Any] | None) -> dict[str, Any]:
    record: dict[str, Any] = {"id": model_id, "pipeline_tag": "token-classification", "downloads": downloads,
                              "tags": ["transformers", "token-classification"], "library_name": "transformers",
                              "createdAt": "2024-01-01T00:00:00.000Z", "lastModified": "2024-02-01T00:00:00.000Z"}  # fmt: skip
    if card is not None:
        record["cardData"] = card
    return record


def test_sync_stores_model_index_results_as_evidence(mini_taxonomy: Path, tmp_path: Path) -> None:
    from catalog.hub.sync import sync_from_hub

    hub = FakeHub.from_records([_record("org/ner-a", 100, _card(91.5)), _record("org/ner-b", 50, None)])
    db = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    with HubServer(hub) as server:
        sync_from_hub(db, tasks=["token-classification"], limit=10, endpoint=server.url)
        with db.connect() as conn:
            first = conn.execute(select(evidence).where(evidence.c.source_key == "hub-sync")).all()
        hub.add_record(_record("org/ner-a", 100, _card(0.925)))  # the card changed: its rows are replaced
        sync_from_hub(db, tasks=["token-classification"], limit=10, endpoint=server.url)
    with db.connect() as conn:
        second = conn.execute(select(evidence).where(evidence.c.source_key == "hub-sync")).all()
        source = conn.execute(select(evidence_sources).where(evidence_sources.c.key == "hub-sync")).one()
    db.dispose()
    assert [(r.model_id, r.metric, r.value, r.verified, r.source_kind) for r in first] == [
        ("org/ner-a", "seqeval-f1", pytest.approx(0.915), True, "model-card")
    ]
    assert [(r.model_id, r.value) for r in second] == [("org/ner-a", pytest.approx(0.925))]
    assert source.rows_imported == 1 and source.name == "hub-sync"


# --- the Open LLM Leaderboard contents dataset, live path -----------------------------------------------------------

SHA = "0123456789abcdef0123456789abcdef01234567"
CONTENTS = [
    {"fullname": "org/llm-a", "Precision": "4bit", "IFEval Raw": 0.5, "BBH Raw": 0.4, "MATH Lvl 5 Raw": 0.1,
     "GPQA Raw": 0.3, "MUSR Raw": 0.4, "MMLU-PRO Raw": 0.3},
    {"fullname": "org/llm-a", "Precision": "bfloat16", "IFEval Raw": 0.61, "BBH Raw": 0.52, "MATH Lvl 5 Raw": 0.11, "GPQA Raw": 0.31,
     "MUSR Raw": 0.42, "MMLU-PRO Raw": 0.38, "IFEval": 61.0, "#Params (B)": 7.24,
     "Submission Date": "2024-07-01"},
    {"fullname": "org/llm-b", "IFEval Raw": 0.45, "BBH Raw": 0.40, "MATH Lvl 5 Raw": 0.05, "GPQA Raw": 0.27,
     "MUSR Raw": 0.36, "MMLU-PRO Raw": 0.25, "IFEval": 45.0, "#Params (B)": 1.5,
     "Submission Date": "2024-08-01"},
]  # fmt: skip


class _DatasetHub(BaseHTTPRequestHandler):
    """The two endpoints huggingface_hub uses here: dataset info, and resolve (HEAD for metadata, then GET)."""

    files: ClassVar[dict[str, bytes]] = {}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str], head: bool = False) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _route(self, head: bool) -> None:
        path = self.path.split("?")[0]
        if path.startswith("/api/datasets/open-llm-leaderboard/contents"):
            info = {"id": "open-llm-leaderboard/contents", "sha": SHA, "lastModified": "2024-09-01T00:00:00.000Z",
                    "siblings": [{"rfilename": name} for name in self.files] + [{"rfilename": "README.md"}]}  # fmt: skip
            self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"}, head)
            return
        prefix = f"/datasets/open-llm-leaderboard/contents/resolve/{SHA}/"
        if path.startswith(prefix) and path[len(prefix) :] in self.files:
            data = self.files[path[len(prefix) :]]
            etag = f'"{abs(hash(data))}"'
            self._send(
                200, data, {"X-Repo-Commit": SHA, "ETag": etag, "Content-Type": "application/octet-stream"}, head
            )
            return
        self._send(404, b'{"error": "Entry not found"}', {"X-Error-Code": "EntryNotFound"}, head)

    def do_GET(self) -> None:
        self._route(head=False)

    def do_HEAD(self) -> None:
        self._route(head=True)


@pytest.fixture
def contents_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    _DatasetHub.files = {"data/contents.jsonl": "\n".join(json.dumps(r) for r in CONTENTS).encode()}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DatasetHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    yield url
    server.shutdown()
    server.server_close()


def test_open_llm_leaderboard_contents_through_huggingface_hub(contents_hub: str, tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'llm.db'}")
    report = import_evidence(db, "hf://datasets/open-llm-leaderboard/contents")
    again = import_evidence(db, "hf://datasets/open-llm-leaderboard/contents")
    with db.connect() as conn:
        rows = {
            (r.model_id, r.dataset): r
            for r in conn.execute(select(evidence).where(evidence.c.source_key == report.source.key))
        }
    db.dispose()
    assert (
        report.source.revision == SHA
        and report.source.key == "open-llm-leaderboard:hf://datasets/open-llm-leaderboard/contents"
    )
    # six v2 "Raw" columns per model; the normalised IFEval column is not a registry metric and is not read
    # the 4-bit run of org/llm-a gives way to its bfloat16 run
    assert (report.rows_read, report.rows_imported, report.facts) == (18, 12, 2)
    assert dict(report.skipped) == {"quantised-duplicate-row": 6}
    assert (again.rows_imported, again.replaced, len(rows)) == (12, 12, 12)
    bbh = rows[("org/llm-a", "SaylorTwift/bbh")]
    assert bbh.metric == "accuracy-norm" and bbh.n_shot == 3 and bbh.value == pytest.approx(0.52)
    assert bbh.details["precision"] == "bfloat16"
    assert rows[("org/llm-b", "lighteval/MATH-Hard")].metric == "exact-match"
    assert rows[("org/llm-a", "google/IFEval")].source_date.year == 2024


def test_unreachable_hub_is_one_line(tmp_path: Path, run_cli: Any) -> None:
    result = run_cli("evidence", "import", "hf://datasets/open-llm-leaderboard/contents")
    assert result.code == 1 and result.err.count("\n") == 1 and "Cannot read hf://datasets/" in result.err
