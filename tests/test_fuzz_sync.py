"""Seeded, bounded fuzzing of what a sync reads: snapshot files (JSON Lines, JSON arrays, CSV) and Hub listing
pages, each case holding clean items next to items poisoned at random places with values from issue 14's list
(huge numbers, NaN, dates out of range, lone surrogates, bytes that are not UTF-8, deep nesting, NUL, ...) or
with random bytes.

For every case: the command ends with a report (code 0) or with one line on stderr (code 1), never an
"unexpected" error; with poisoned values every clean item is stored and every item is either stored or a
counted skip; a refused file leaves the database unchanged. The summary line printed at the end gives the
numbers (run with -s to see it)."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from catalog.db import open_database
from catalog.db.models import Model
from catalog.errors import CatalogError
from catalog.hub.client import HubClient, RetryPolicy
from catalog.hub.sync import sync_from_hub

from .support.hub_server import FakeHub, HubServer
from .test_sync_reliability import fingerprint

SEED = 20_141
SNAPSHOT_CASES = 120
HUB_CASES = 60
TASK = "text-generation"
FAST = RetryPolicy(attempts=2, base_s=0.001, cap_s=0.01, timeout_s=10.0)

# JSON values (raw bytes) that keep an item's brackets and quotes balanced: the item is stored or skipped, and
# its neighbours are untouched.
JSON_POISONS: list[bytes] = [
    b"9" * 5000, b"-" + b"9" * 5000, b"1" + b"0" * 400, b"1e999", b"-1e999", b"NaN", b"Infinity", b"-Infinity",
    b"1.5", b"-1", b"0", b"true", b"false", b"null", b"[]", b"{}",
    str(2**63).encode(), str(2**64).encode(), str(2**31).encode(), str(-(2**63) - 1).encode(),
    b'"\\ud800"', b'"x\\udfff"', b'"caf\xe9"', b'"\xff\xfe\xfd"', b'"\\u0000"', b'"a\\u0000b"', b'"\\x41"', b'"\t"',
    b'"' + b"x" * 300 + b'"', b'"' + b"y" * 200_000 + b'"',
    b'"0001-01-01T00:00:00+01:00"', b'"9999-12-31T23:59:59-01:00"', b'"2024-02-30T00:00:00Z"', b'"not a date"',
    "\"\u00b2\"".encode(), b'"' + b"9" * 5000 + b'"', b'"llama-99999999999b"',
    b"[" * 2000 + b"]" * 2000, b"[" * 100_000 + b"]" * 100_000, b'{"a": ' * 1500 + b"1" + b"}" * 1500,
    b'["a", 1, null, {"b": []}]', b"[" + b'"t",' * 5000 + b'"t"]',
]  # fmt: skip
# Where in an item a poison goes: a top-level field or a path into a nested one.
FIELDS: list[tuple[str, ...]] = [
    ("id",), ("author",), ("tags",), ("tags", "0"), ("downloads",), ("likes",), ("lastModified",), ("createdAt",),
    ("gated",), ("private",), ("sha",), ("library_name",), ("cardData",), ("cardData", "license"),
    ("cardData", "language"), ("cardData", "base_model"), ("config",), ("config", "model_type"),
    ("config", "hidden_size"), ("config", "vocab_size"), ("config", "num_hidden_layers"), ("transformersInfo",),
    ("transformersInfo", "auto_model"), ("safetensors",), ("safetensors", "total"), ("model-index",),
    ("model-index", "value"), ("model-index", "type"), ("model-index", "task"),
]  # fmt: skip
# CSV cells (text) and where they go; non-UTF-8 bytes are added separately.
CSV_POISONS: list[str] = [
    "\u00b2", "9" * 5000, "-1", "1e999", "NaN", "0001-01-01T00:00:00+01:00", "a\x00b", "x" * 200_000, "\u00e9",
    "['a'", "[1, 2]", "{'a': 1}", "[" * 150 + "]" * 150, "[" * 1000 + "]" * 1000, "'x'", "()", "['ok', 'fine']",
    "", " ", '"', "\n", "True", "2**64", str(2**63), "[" + "'t'," * 10_000 + "]", "llama-99999999999b",
]  # fmt: skip
CSV_COLUMNS = ["modelId", "author", "pipeline_tag", "downloads", "likes", "tags", "lastModified", "createdAt",
               "library_name", "sha", "private"]  # fmt: skip
GARBAGE_ALPHABET = b'[]{},:"\\ \n\t\x00\xff\xe9abc019-.'


class Tally:
    def __init__(self) -> None:
        self.tried = self.stored_ok = self.refused_ok = 0
        self.failures: list[str] = []
        self.failed_cases: set[str] = set()

    def check(self, case: str, condition: bool, what: str) -> bool:
        if not condition:
            self.failures.append(f"{case}: {what}")
            self.failed_cases.add(case)
        return condition


@pytest.fixture(scope="module")
def tallies() -> Iterator[dict[str, Tally]]:
    found: dict[str, Tally] = {}
    yield found
    for name, tally in found.items():
        print(
            f"\nfuzz {name}: {tally.tried} cases tried, {tally.stored_ok + tally.refused_ok} passed "
            f"({tally.stored_ok} imported, {tally.refused_ok} refused with one line), {len(tally.failed_cases)} failed"
        )


def garbage(rng: random.Random) -> bytes:
    return bytes(rng.choice(GARBAGE_ALPHABET) for _ in range(rng.randint(1, 30)))


def placeholder(case: int, item: int, slot: int) -> str:
    return f"@@case{case:03d}x-{item}-{slot}@@"


def poisoned_record(case: int, item: int, rng: random.Random, fields: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A record with 1..n fields set to placeholders, and the poison bytes each placeholder stands for."""
    record: dict[str, Any] = {
        "id": f"p/case{case:03d}x-{item}",
        "pipeline_tag": TASK,
        "tags": ["transformers", TASK],
        "downloads": rng.randint(0, 10**6),
        "config": {"model_type": "gpt2"},
        "cardData": {"license": "mit"},
    }
    splice: dict[str, bytes] = {}
    for slot in range(fields):
        path = rng.choice(FIELDS)
        value = placeholder(case, item, slot)
        splice[value] = rng.choice(JSON_POISONS)
        if path[0] == "model-index":
            metric = {"type": "accuracy", "value": 0.5}
            task: Any = {"type": TASK}
            if len(path) > 1 and path[1] in ("value", "type"):
                metric[path[1]] = value
            elif len(path) > 1:
                task = value
            record["model-index"] = value if len(path) == 1 else [
                {"results": [{"task": task, "dataset": {"name": "d"}, "metrics": [metric]}]}
            ]  # fmt: skip
        elif len(path) == 1:
            record[path[0]] = value
        elif path[0] == "tags":
            record["tags"] = [value, TASK]
        else:
            nested = record.get(path[0])
            record[path[0]] = (nested if isinstance(nested, dict) else {}) | {path[1]: value}
    return record, splice


def clean_record(case: int, item: int) -> dict[str, Any]:
    return {
        "id": f"clean/case{case:03d}x-{item}",
        "pipeline_tag": TASK,
        "tags": ["transformers", "gpt2", TASK],
        "downloads": 10**7 - item,
        "lastModified": "2024-05-01T10:00:00.000Z",
        "config": {"model_type": "gpt2"},
    }


def spliced(document: str, splice: dict[str, bytes]) -> bytes:
    data = document.encode("utf-8")
    for key, value in splice.items():
        data = data.replace(json.dumps(key).encode("ascii"), value)
    return data


def stored_ids(db_url: str, marker: str) -> set[str]:
    db = open_database(db_url)
    with db.session() as session:
        ids = set(session.scalars(select(Model.id).where(Model.id.contains(marker))))
    db.dispose()
    return ids


# ----------------------------------------------------------------------------------------- snapshot files


def snapshot_case(case: int, rng: random.Random, directory: Path) -> tuple[Path, set[str], bool]:
    """A snapshot file for this case: its path, the clean ids, and whether it holds random bytes (after which
    neighbouring items may be lost, or the whole file refused)."""
    kind = rng.choice(["jsonl", "json", "csv"])
    clean = [clean_record(case, i) for i in range(rng.randint(2, 5))]
    noisy = rng.random() < 0.25
    if kind == "csv":
        data = csv_snapshot(case, rng, clean, noisy)
    else:
        entries: list[bytes] = [json.dumps(r).encode() for r in clean]
        for item in range(rng.randint(1, 3)):
            record, splice = poisoned_record(case, item, rng, rng.randint(1, 3))
            entries.insert(rng.randrange(len(entries) + 1), spliced(json.dumps(record), splice))
        if noisy:
            entries.insert(rng.randrange(len(entries) + 1), garbage(rng))
        data = b"\n".join(entries) + b"\n" if kind == "jsonl" else b"[" + b",\n".join(entries) + b"]"
    if rng.random() < 0.15:
        data = b"\xef\xbb\xbf" + data
    path = directory / f"case{case:03d}.{kind}"
    path.write_bytes(data)
    return path, {r["id"] for r in clean}, noisy


def csv_snapshot(case: int, rng: random.Random, clean: list[dict[str, Any]], noisy: bool) -> bytes:
    def row(record: dict[str, Any]) -> list[str]:
        return [record["id"], "someone", TASK, str(record["downloads"]), "3", str(record["tags"]),
                record["lastModified"], "", "transformers", "", "False"]  # fmt: skip

    rows = [row(r) for r in clean]
    for item in range(rng.randint(1, 3)):
        cells = row(clean_record(case, 100 + item))
        cells[0] = f"p/case{case:03d}x-{item}"
        for _ in range(rng.randint(1, 3)):
            cells[rng.randrange(len(cells))] = rng.choice(CSV_POISONS + ["@@latin1@@"])
        rows.insert(rng.randrange(len(rows) + 1), cells)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    data = text.getvalue().encode("utf-8").replace(b"@@latin1@@", b"caf\xe9\xff")
    if noisy:
        lines = data.split(b"\n")
        lines.insert(rng.randrange(1, len(lines)), garbage(rng))
        data = b"\n".join(lines)
    return data


def test_fuzz_snapshot_files(
    run_cli, mini_taxonomy: Path, tmp_path: Path, db_url: str, tallies: dict[str, Tally]
) -> None:  # type: ignore[no-untyped-def]
    backend = db_url.split(":")[0].split("+")[0]
    tally = tallies.setdefault(f"snapshot files ({backend})", Tally())
    cases = SNAPSHOT_CASES if backend == "sqlite" else SNAPSHOT_CASES // 3  # PostgreSQL: its stricter types
    for case in range(cases):
        rng = random.Random(SEED * 1000 + case)
        path, clean, noisy = snapshot_case(case, rng, tmp_path)
        label = f"snapshot case {case} ({path.suffix}{', random bytes' if noisy else ''})"
        before = fingerprint(db_url) if noisy else None
        result = run_cli("sync", "--db", db_url, "--from-snapshot", str(path), "--format", "json")
        tally.tried += 1
        if not tally.check(label, "unexpected" not in result.err and "Traceback" not in result.err, result.err):
            continue
        if result.code == 0:
            total = result.json()["total"]
            stored = total["inserted"] + total["updated"] + total["unchanged"]
            # equal unless two poisoned ids came out the same (the last one wins, as on the Hub)
            ok = tally.check(label, stored + total["skipped"] <= total["fetched"], f"counts {total}")
            if not noisy:
                ok &= tally.check(label, clean <= stored_ids(db_url, f"case{case:03d}x"), "a clean item was lost")
                ok &= tally.check(label, stored >= len(clean), f"counts {total}")
            tally.stored_ok += ok
        else:
            ok = tally.check(label, noisy, f"refused a file without random bytes: {result.err}")
            ok &= tally.check(label, result.code == 1 and result.err.count("\n") == 1, f"not one line: {result.err}")
            ok &= tally.check(label, before == fingerprint(db_url), "the database changed on refusal")
            tally.refused_ok += ok
    assert not tally.failures, "\n".join(tally.failures[:20])
    assert tally.stored_ok >= cases * 0.7  # most files hold poisoned values only: imported


# ----------------------------------------------------------------------------------------- Hub pages


def test_fuzz_hub_pages(mini_taxonomy: Path, db_url: str, tallies: dict[str, Tally]) -> None:
    backend = db_url.split(":")[0].split("+")[0]
    tally = tallies.setdefault(f"Hub pages ({backend})", Tally())
    cases = HUB_CASES if backend == "sqlite" else HUB_CASES // 3
    hub = FakeHub()
    db = open_database(db_url)
    with HubServer(hub) as server:
        for case in range(cases):
            rng = random.Random(SEED * 7 + case)
            marker = f"case{case:03d}x"
            clean = [clean_record(case, i) for i in range(rng.randint(2, 6))]
            for record in clean:
                hub.add_record(record)
            poisoned = rng.randint(1, 3)
            for item in range(poisoned):
                record, splice = poisoned_record(case, item, rng, rng.randint(1, 3))
                record.setdefault("_id", f"{case:012d}{item:012d}")  # the fake's own id: any string id works
                hub.add_record(record)
                hub.splice.update(splice)
            noisy = rng.random() < 0.2
            if noisy:  # random bytes in a value position: the page may lose neighbours or stop being JSON
                key = placeholder(case, 99, 0)
                hub.add_record({"id": f"noise/{marker}", "pipeline_tag": TASK, "author": key})
                hub.splice[key] = garbage(rng)
            page_size = 1000 if noisy else rng.randint(2, 6)
            label = f"hub case {case} (page size {page_size}{', random bytes' if noisy else ''})"
            before = fingerprint(db_url, with_state=False) if noisy else None
            tally.tried += 1
            try:
                report = sync_from_hub(db, tasks=[TASK], search=marker, client=HubClient(server.url, retry=FAST),
                                       page_size=page_size)  # fmt: skip
            except CatalogError as exc:
                ok = tally.check(label, noisy, f"refused a page without random bytes: {exc}")
                ok &= tally.check(label, "\n" not in str(exc), "not one line")
                ok &= tally.check(label, before == fingerprint(db_url, with_state=False), "models changed")
                tally.refused_ok += ok
                continue
            except Exception as exc:  # what the CLI would print as "unexpected"
                tally.check(label, False, f"unexpected {type(exc).__name__}: {exc}")
                continue
            total = report.totals()
            expected = len(clean) + poisoned + noisy
            ok = tally.check(label, total.stored + total.skipped <= total.fetched, f"counts {total}")
            if not noisy:
                ok &= tally.check(label, total.fetched == expected, f"fetched {total.fetched} of {expected}")
                ok &= tally.check(label, {r["id"] for r in clean} <= stored_ids(db_url, marker), "clean item lost")
            tally.stored_ok += ok
    db.dispose()
    assert not tally.failures, "\n".join(tally.failures[:20])
    assert tally.stored_ok >= cases * 0.7
