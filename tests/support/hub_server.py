"""A local stand-in for the Hugging Face Hub HTTP API, for tests that must run offline.

The real ``huggingface_hub`` client is pointed at it (``HfApi(endpoint=server.url)``,
``hf_hub_download(..., endpoint=server.url)``) so that the client's own paging, retry and
parsing code is exercised, not a mock of it.

What it serves (standard library only):

* ``GET /api/models`` -- filtered, sorted, cursor-paginated listing with a Hub-style ``Link``
  header (``rel="next"``, opaque base64 cursor), pages of at most ``FakeHub.page_max`` (1000).
* ``GET /api/models/{repo_id}`` and ``/api/models/{repo_id}/revision/{rev}`` -- model info.
* ``GET|HEAD /{repo_id}/resolve/{revision}/{filename}`` -- files added with ``FakeHub.add_file``.
* Poisoned listing pages: ``FakeHub.splice`` swaps placeholder strings for raw bytes (what
  ``json.dumps`` never writes: bytes that are not UTF-8, 100,000-deep nesting, 5,000-digit numbers).

Deliberate simplifications (documented so tests do not rely on them by accident):

* ``sort=trendingScore`` (the Hub's default) uses ``trendingScore`` when a record has one, else
  ``likes``, else ``downloads`` -- snapshot records carry neither trendingScore nor likes.
* ``direction`` defaults to ``-1`` (descending). Records whose sort value is missing or not a
  number/date sort last, in both directions; ``_id`` ascending breaks ties (as in Hub cursors).
* A ``Link`` header is sent whenever more matching items remain, whatever the caller's ``limit``:
  the Hub treats ``limit`` as a page size; ``huggingface_hub`` stops by itself (``islice``).
* Unknown query parameters are ignored; unknown ``expand`` names are ignored.

Run by hand::

    python -m tests.support.hub_server --csv /work/shared/hub/hf_models_2024-09-20.csv --port 8765
"""

from __future__ import annotations

import argparse
import ast
import base64
import binascii
import bisect
import contextlib
import csv
import hashlib
import json
import random
import socket
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

__all__ = [
    "FAULT_KINDS",
    "MALFORMED_KINDS",
    "MAX_STALL_S",
    "FakeHub",
    "FaultPlan",
    "Faults",
    "HubServer",
    "Malformed",
    "git_blob_sha1",
    "main",
    "object_id",
    "synthetic_records",
]

#: Fault kinds understood by :class:`Faults` and :meth:`FakeHub.fail_next`.
FAULT_KINDS: tuple[str, ...] = ("429", "500", "502", "503", "504", "drop", "partial", "stall")
#: Malformation kinds understood by :class:`Malformed`.
MALFORMED_KINDS: tuple[str, ...] = ("missing_id", "bad_date", "wrong_type")
#: Upper bound on any server-side sleep, so a fault can never hang a test run.
MAX_STALL_S = 30.0

SORT_KEYS: tuple[str, ...] = ("trendingScore", "downloads", "likes", "createdAt", "lastModified")
_SORT_ALIASES = {
    "trending_score": "trendingScore",
    "trending": "trendingScore",
    "created_at": "createdAt",
    "last_modified": "lastModified",
}
_DATE_KEYS = frozenset({"createdAt", "lastModified"})
_ALWAYS_FIELDS = ("_id", "id", "modelId")
#: Fields of a default list item (as in a real ``GET /api/models`` page).
LIST_DEFAULT_FIELDS = frozenset(
    {
        "_id",
        "id",
        "modelId",
        "likes",
        "trendingScore",
        "private",
        "downloads",
        "tags",
        "pipeline_tag",
        "library_name",
        "createdAt",
    }
)
#: Extra fields a list item gets with ``full=true``.
LIST_FULL_FIELDS = frozenset(
    {"author", "sha", "lastModified", "gated", "disabled", "inference", "siblings", "mask_token", "widgetData"}
)
_ERROR_MESSAGES = {
    500: "Internal Error - We're working hard to fix this as soon as possible!",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_HEX40 = frozenset("0123456789abcdef")


# --------------------------------------------------------------------------- helpers


def object_id(repo_id: str) -> str:
    """A deterministic 24-hex Mongo-style ``_id`` for a repo id (the Hub's ids are opaque too)."""
    return hashlib.sha1(repo_id.encode("utf-8")).hexdigest()[:24]


def git_blob_sha1(data: bytes) -> str:
    """The git blob id of ``data``: what the Hub sends as ETag for a regular (non-LFS) file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _hub_date(value: datetime) -> str:
    """Format like the Hub: ``2024-02-19T11:06:12.000Z``."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _timestamp(value: Any) -> float | None:
    """Epoch seconds of a Hub date string, or None when it is not a parseable date."""
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _number(value: Any) -> int | float | None:
    """Numbers only: bools and strings (e.g. an injected ``"lots"``) count as missing."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in {"1", "true", "yes", "on"}


def _is_commit_sha(value: str) -> bool:
    return len(value) == 40 and set(value) <= _HEX40


def _normalize_record(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Copy a record, making sure it has ``_id``, ``id`` and ``modelId`` (nothing else is added)."""
    repo_id = raw.get("id") or raw.get("modelId")
    if not isinstance(repo_id, str) or not repo_id:
        raise ValueError(f"record has no usable 'id'/'modelId': {dict(raw)!r:.200}")
    rest = {k: v for k, v in raw.items() if k not in _ALWAYS_FIELDS}
    record: dict[str, Any] = {"_id": raw.get("_id") or object_id(repo_id), "id": repo_id}
    record.update(rest)
    record["modelId"] = raw.get("modelId") or repo_id
    return record


# --------------------------------------------------------------------------- faults


class FaultPlan(NamedTuple):
    """One fault to inject: its kind plus the parameters that kind uses."""

    kind: str
    retry_after: int = 0
    stall_s: float = 2.0


@dataclass
class Faults:
    """Random, seeded fault injection: each matching request fails with probability ``rate``.

    Kinds (see :data:`FAULT_KINDS`):

    * ``"429"``: 429 with ``Retry-After: <retry_after>`` and a JSON error body.
    * ``"500"``, ``"502"``, ``"503"``, ``"504"``: that status with a JSON ``{"error": ...}`` body.
    * ``"drop"``: the request is read, then the connection is closed with no response at all.
    * ``"partial"``: status line, headers (full ``Content-Length``) and half the body, then close.
      For HEAD (no body) it behaves like ``"drop"``.
    * ``"stall"``: wait ``stall_s`` seconds (capped at :data:`MAX_STALL_S`, cut short when the
      server stops), then close with no response. Pick ``stall_s`` above the client's timeout.

    Only requests whose path (without query) starts with ``path_prefix`` and whose method is in
    ``methods`` (empty: any) are considered; the random stream advances once per considered
    request, so a sequential client sees the same faults on every run with the same seed.
    """

    rate: float = 0.2
    kinds: tuple[str, ...] = ("429", "500", "503", "drop", "stall")
    seed: int = 0
    retry_after: int = 0
    stall_s: float = 2.0
    path_prefix: str = ""
    methods: tuple[str, ...] = ()
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], got {self.rate}")
        if not self.kinds:
            raise ValueError("kinds must not be empty")
        unknown = [k for k in self.kinds if k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {FAULT_KINDS}")
        if self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        self.stall_s = min(max(float(self.stall_s), 0.0), MAX_STALL_S)
        self._rng = random.Random(self.seed)

    def pick(self, method: str, path: str) -> FaultPlan | None:
        """The fault for this request, or None (consumes randomness only for matching requests)."""
        if not path.startswith(self.path_prefix) or (self.methods and method not in self.methods):
            return None
        with self._lock:
            if self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(self.kinds)
        return FaultPlan(kind, self.retry_after, self.stall_s)


@dataclass(frozen=True)
class Malformed:
    """Corrupt some items of every list page (copies; stored records are untouched).

    On each page the items at positions ``first``, ``first + every``, ``first + 2*every``, ...
    are corrupted, cycling through ``kinds``:

    * ``"missing_id"``: the item has no ``"id"`` (nor its legacy twin ``"modelId"``).
    * ``"bad_date"``: ``"lastModified": "not-a-date"`` (and ``createdAt`` too if present).
    * ``"wrong_type"``: ``"downloads": "lots"``.
    """

    kinds: tuple[str, ...] = MALFORMED_KINDS
    every: int = 10
    first: int = 0

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in MALFORMED_KINDS]
        if unknown or not self.kinds:
            raise ValueError(f"kinds must be a non-empty subset of {MALFORMED_KINDS}, got {self.kinds}")
        if self.every < 1 or self.first < 0:
            raise ValueError("every must be >= 1 and first >= 0")

    def apply(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Corrupt the selected items of one page in place (they are already copies)."""
        for n, pos in enumerate(range(self.first, len(items), self.every)):
            kind = self.kinds[n % len(self.kinds)]
            item = items[pos]
            if kind == "missing_id":
                item.pop("id", None)
                item.pop("modelId", None)  # the same id under its legacy name
            elif kind == "bad_date":
                item["lastModified"] = "not-a-date"
                if "createdAt" in item:
                    item["createdAt"] = "not-a-date"
            else:
                item["downloads"] = "lots"
        return items


# --------------------------------------------------------------------------- the hub


@dataclass(frozen=True)
class _Response:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


def _json_response(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> _Response:
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return _Response(status, (("Content-Type", "application/json; charset=utf-8"), *headers), body)


def _error(status: int, message: str, code: str | None = None, *extra: tuple[str, str]) -> _Response:
    """An error shaped like the Hub's: JSON body plus X-Error-Code / X-Error-Message headers."""
    headers: list[tuple[str, str]] = [("X-Error-Message", message)]
    if code:
        headers.append(("X-Error-Code", code))
    headers.extend(extra)
    return _json_response(status, {"error": message}, headers)


class FakeHub:
    """Model records, files, fault settings and a request log; serve it with :class:`HubServer`.

    Records are dicts in the Hub's own JSON field names. Fields absent from a record stay absent
    in responses (the client maps them to None); only ``_id``/``id``/``modelId`` are filled in.
    """

    #: Largest page the Hub returns, whatever ``limit`` says; also the page size without ``limit``.
    page_max: int = 1000

    def __init__(self, records: Iterable[Mapping[str, Any]] = ()) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._by_id: dict[str, int] = {}
        self._indexes: dict[tuple[str, bool], list[int]] = {}
        # repo_id -> branch/tag name -> filename -> content
        self._files: dict[str, dict[str, dict[str, bytes]]] = {}
        self._forced: deque[tuple[FaultPlan, str, str | None]] = deque()
        self.faults: Faults | None = None
        self.malformed: Malformed | None = None
        #: Poisoned pages: where a listing page holds the JSON string KEY (e.g. ``"@@deep@@"`` as a record's
        #: value), it is sent with these bytes instead: what ``json.dumps`` never writes (bytes that are not
        #: UTF-8, 100,000-deep nesting, 5,000-digit numbers). Records keep their placeholder, so sorting and
        #: filtering see a plain string.
        self.splice: dict[str, bytes] = {}
        #: When True, resolving a file on a branch answers 307 to the same file at its commit sha.
        self.redirect_resolve = False
        #: ``(method, path+query, status)``; status 0 = no complete response (drop/partial/stall).
        self.request_log: list[tuple[str, str, int]] = []
        self.last_headers: dict[str, str] = {}  # of the latest request, e.g. to check Authorization
        #: ``(path+query, kind)`` for every injected fault.
        self.fault_log: list[tuple[str, str]] = []
        for record in records:
            self.add_record(record)

    # ---- loading

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> FakeHub:
        """A hub holding ``records`` (later duplicates of an id replace earlier ones)."""
        return cls(records)

    @classmethod
    def from_snapshot_csv(cls, path: str | Path, *, derive_library_name: bool = False) -> FakeHub:
        """Load the 2024-09-20 snapshot CSV (columns modelId, author, downloads, lastModified,
        tags, pipeline_tag, sha, private, inference).

        The snapshot has no likes, createdAt or library_name; they stay absent. With
        ``derive_library_name`` the first tag naming a well-known library becomes library_name
        (a heuristic, hence opt-in).
        """
        return cls(_snapshot_rows(Path(path), derive_library_name=derive_library_name))

    def add_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Add or replace one model record; returns the stored (normalized) copy."""
        normalized = _normalize_record(record)
        with self._lock:
            pos = self._by_id.get(normalized["id"])
            if pos is None:
                self._by_id[normalized["id"]] = len(self._records)
                self._records.append(normalized)
            else:
                self._records[pos] = normalized
            self._indexes.clear()
        return normalized

    def get(self, repo_id: str) -> dict[str, Any] | None:
        """The stored record for ``repo_id`` (not a copy), or None."""
        pos = self._by_id.get(repo_id)
        return None if pos is None else self._records[pos]

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, repo_id: object) -> bool:
        return repo_id in self._by_id

    def add_file(self, repo_id: str, filename: str, content: bytes | str, revision: str = "main") -> str:
        """Serve ``content`` at ``/{repo_id}/resolve/{revision}/{filename}``; returns its ETag value.

        ``revision`` is a branch/tag name; the file is also reachable at that revision's commit
        sha (the record's ``sha`` for ``main``, else a sha derived from repo and revision). The
        record's ``siblings`` list, if the repo has a record, gains the filename.
        """
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        with self._lock:
            self._files.setdefault(repo_id, {}).setdefault(revision, {})[filename] = data
            record = self.get(repo_id)
            if record is not None:
                siblings = record.get("siblings") or []
                if all(s.get("rfilename") != filename for s in siblings):
                    record["siblings"] = [*siblings, {"rfilename": filename}]
        return git_blob_sha1(data)

    def commit_for(self, repo_id: str, revision: str = "main") -> str:
        """The commit sha a branch/tag resolves to (stable for the life of the hub)."""
        record = self.get(repo_id)
        sha = record.get("sha") if record else None
        if revision == "main" and isinstance(sha, str) and _is_commit_sha(sha):
            return sha
        return hashlib.sha1(f"{repo_id}\0{revision}".encode()).hexdigest()

    # ---- faults and log

    def fail_next(
        self,
        n: int,
        kind: str,
        *,
        path_prefix: str = "",
        method: str | None = None,
        retry_after: int = 0,
        stall_s: float = 2.0,
    ) -> None:
        """Fail exactly the next ``n`` requests whose path starts with ``path_prefix`` (and whose
        method is ``method``, if given). Queued faults come before random ones, in order; a
        request that does not match the head of the queue leaves the queue alone."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {FAULT_KINDS}")
        plan = FaultPlan(kind, max(0, retry_after), min(max(stall_s, 0.0), MAX_STALL_S))
        with self._lock:
            self._forced.extend((plan, path_prefix, method) for _ in range(n))

    def take_fault(self, method: str, path: str) -> FaultPlan | None:
        """The fault to inject for this request (queued ones first), or None."""
        with self._lock:
            if self._forced:
                plan, prefix, wanted_method = self._forced[0]
                if path.startswith(prefix) and wanted_method in (None, method):
                    self._forced.popleft()
                    return plan
        faults = self.faults
        return faults.pick(method, path) if faults is not None else None

    def clear_faults(self) -> None:
        """Drop queued :meth:`fail_next` faults, random faults and malformation settings."""
        with self._lock:
            self._forced.clear()
        self.faults = None
        self.malformed = None

    @property
    def pending_faults(self) -> int:
        """Queued :meth:`fail_next` faults not yet used."""
        return len(self._forced)

    def count(self, path: str, *, method: str | None = None, prefix: bool = False) -> int:
        """How many logged requests hit ``path`` (query ignored), optionally by method/prefix."""
        total = 0
        for logged_method, target, _status in list(self.request_log):
            logged_path = target.split("?", 1)[0]
            if method is not None and logged_method != method:
                continue
            if logged_path == path or (prefix and logged_path.startswith(path)):
                total += 1
        return total

    def clear_log(self) -> None:
        """Forget logged requests and faults (e.g. between phases of one test)."""
        self.request_log.clear()
        self.fault_log.clear()

    # ---- listing

    def _index(self, sort: str, descending: bool) -> tuple[list[dict[str, Any]], list[int]]:
        """Record positions in listing order, built once per (sort, direction) and cached."""
        with self._lock:
            records = self._records
            index = self._indexes.get((sort, descending))
            if index is None:

                def key(i: int) -> tuple[int, float, str]:
                    return _sort_tuple(records[i], sort, descending)

                index = sorted(range(len(records)), key=key)
                self._indexes[(sort, descending)] = index
            return records, index

    def list_page(self, params: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``GET /api/models`` for the query ``params``, and the next cursor (or None).

        Raises ValueError for a bad ``sort``, ``direction``, ``limit`` or ``cursor``.
        """
        query = _ListQuery.parse(params, self.page_max)
        records, index = self._index(query.sort, query.descending)
        start = 0
        if query.cursor is not None:
            target = _decode_cursor(query.cursor, query.sort, query.descending)
            start = bisect.bisect_right(
                index, target, key=lambda i: _sort_tuple(records[i], query.sort, query.descending)
            )
        page: list[dict[str, Any]] = []
        more = False
        for pos in range(start, len(index)):
            record = records[index[pos]]
            if not query.matches(record):
                continue
            if len(page) == query.page_size:
                more = True
                break
            page.append(record)
        cursor = _encode_cursor(page[-1], query.sort, query.descending) if more and page else None
        items = [query.project(record) for record in page]
        malformed = self.malformed
        if malformed is not None:
            items = malformed.apply(items)
        return items, cursor

    def model_info(self, repo_id: str, revision: str | None, expand: list[str]) -> _Response:
        """``GET /api/models/{repo_id}[/revision/{rev}]`` as the Hub answers it."""
        record = self.get(repo_id)
        if record is None:
            return _error(404, "Repository not found", "RepoNotFound")
        info = dict(record)
        if revision is not None:
            commit = self._resolve_revision(repo_id, revision)
            if commit is None:
                return _error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            info["sha"] = commit
        if expand:
            info = _project(info, frozenset(expand))
        return _json_response(200, info)

    # ---- files

    def _resolve_revision(self, repo_id: str, revision: str) -> str | None:
        """Commit sha for a branch/tag name or a known commit sha, else None."""
        branches = set(self._files.get(repo_id, {}))
        if repo_id in self:
            branches.add("main")
        if revision in branches:
            return self.commit_for(repo_id, revision)
        for branch in branches:
            if self.commit_for(repo_id, branch) == revision:
                return revision
        return None

    def _branch_of(self, repo_id: str, commit: str) -> str | None:
        for branch in self._files.get(repo_id, {}):
            if self.commit_for(repo_id, branch) == commit:
                return branch
        return None

    def resolve(self, method: str, repo_id: str, revision: str, filename: str, range_header: str | None) -> _Response:
        """``GET|HEAD /{repo_id}/resolve/{revision}/{filename}`` with the headers the client needs."""
        if repo_id not in self and repo_id not in self._files:
            return _error(404, "Repository not found", "RepoNotFound")
        commit = self._resolve_revision(repo_id, revision)
        if commit is None:
            return _error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        branch = (
            revision
            if not _is_commit_sha(revision) or revision in self._files.get(repo_id, {})
            else (self._branch_of(repo_id, commit) or "main")
        )
        data = self._files.get(repo_id, {}).get(branch, {}).get(filename)
        if data is None:
            return _error(404, "Entry not found", "EntryNotFound", ("X-Repo-Commit", commit))
        etag = f'"{git_blob_sha1(data)}"'
        meta = (("X-Repo-Commit", commit), ("ETag", etag))
        if self.redirect_resolve and revision != commit:
            location = f"/{repo_id}/resolve/{commit}/{quote(filename)}"
            return _Response(
                307,
                (
                    *meta,
                    ("Location", location),
                    ("X-Linked-Etag", etag),
                    ("X-Linked-Size", str(len(data))),
                    ("Content-Length", "0"),
                ),
            )
        headers = (
            *meta,
            ("Content-Type", _content_type(filename)),
            ("Accept-Ranges", "bytes"),
            ("Content-Disposition", f'inline; filename="{Path(filename).name}"'),
        )
        if method == "GET" and range_header:
            span = _parse_range(range_header, len(data))
            if span is None:
                return _Response(416, (*meta, ("Content-Range", f"bytes */{len(data)}")))
            lo, hi = span
            return _Response(206, (*headers, ("Content-Range", f"bytes {lo}-{hi}/{len(data)}")), data[lo : hi + 1])
        return _Response(200, headers, data)


def _content_type(filename: str) -> str:
    if filename.endswith(".json"):
        return "application/json; charset=utf-8"
    if filename.endswith((".md", ".txt")):
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Single ``bytes=lo-[hi]`` ranges only (all the client sends when resuming)."""
    if not header.startswith("bytes=") or "," in header:
        return None
    lo_text, _, hi_text = header[6:].partition("-")
    try:
        lo = int(lo_text)
        hi = int(hi_text) if hi_text else size - 1
    except ValueError:
        return None
    if lo >= size or hi < lo:
        return None
    return lo, min(hi, size - 1)


def _sort_value(record: Mapping[str, Any], sort: str) -> int | float | None:
    if sort == "trendingScore":
        for key in ("trendingScore", "likes", "downloads"):
            value = _number(record.get(key))
            if value is not None:
                return value
        return None
    if sort in _DATE_KEYS:
        return _timestamp(record.get(sort))
    return _number(record.get(sort))


def _cursor_value(record: Mapping[str, Any], sort: str) -> Any:
    """The value a cursor stores: the record's own value (date string), or the trending fallback."""
    if _sort_value(record, sort) is None:
        return None
    return _sort_value(record, sort) if sort == "trendingScore" else record.get(sort)


def _sort_tuple(record: Mapping[str, Any], sort: str, descending: bool) -> tuple[int, float, str]:
    value = _sort_value(record, sort)
    if value is None:
        return (1, 0.0, str(record["_id"]))
    return (0, -value if descending else value, str(record["_id"]))


def _encode_cursor(last: Mapping[str, Any], sort: str, descending: bool) -> str:
    """A Hub-shaped cursor: a base64 Mongo-style range predicate after ``last``."""
    value = _cursor_value(last, sort)
    after = {"_id": {"$gt": last["_id"]}}
    if value is None:
        predicate: dict[str, Any] = {"$or": [{sort: None, **after}]}
    else:
        predicate = {"$or": [{sort: value, **after}, {sort: {"$lt" if descending else "$gt": value}}, {sort: None}]}
    return base64.b64encode(json.dumps(predicate, separators=(",", ":")).encode()).decode("ascii")


def _decode_cursor(cursor: str, sort: str, descending: bool) -> tuple[int, float, str]:
    """The sort tuple of the last item served, as encoded by :func:`_encode_cursor`."""
    try:
        predicate = json.loads(base64.b64decode(cursor, validate=True))
        first = predicate["$or"][0]
        last_id = first["_id"]["$gt"]
        raw = first[sort]
    except (binascii.Error, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ValueError("Invalid cursor") from exc
    if not isinstance(last_id, str):
        raise ValueError("Invalid cursor")
    if raw is None:
        return (1, 0.0, last_id)
    value = _timestamp(raw) if sort in _DATE_KEYS else _number(raw)
    if value is None:
        raise ValueError("Invalid cursor")
    return (0, -value if descending else value, last_id)


def _project(record: Mapping[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k in fields or k in _ALWAYS_FIELDS}


@dataclass(frozen=True)
class _ListQuery:
    """The parts of a ``GET /api/models`` query string the fake understands."""

    sort: str
    descending: bool
    page_size: int
    cursor: str | None
    search: str | None
    author: str | None
    filters: tuple[str, ...]
    pipeline_tag: str | None
    library: str | None
    gated: bool | None
    fields: frozenset[str]

    @classmethod
    def parse(cls, params: list[tuple[str, str]], page_max: int) -> _ListQuery:
        values: dict[str, list[str]] = {}
        for key, value in params:
            values.setdefault(key, []).append(value)

        def one(name: str) -> str | None:
            got = values.get(name)
            return got[-1] if got else None

        sort = one("sort") or "trendingScore"
        sort = _SORT_ALIASES.get(sort, sort)
        if sort not in SORT_KEYS:
            raise ValueError(f"Invalid sort: {sort}")
        direction = one("direction") or "-1"
        if direction not in {"-1", "1"}:
            raise ValueError(f"Invalid direction: {direction}")
        limit_text = one("limit")
        page_size = page_max
        if limit_text is not None:
            try:
                limit = int(limit_text)
            except ValueError:
                raise ValueError(f"Invalid limit: {limit_text}") from None
            if limit < 1:
                raise ValueError(f"Invalid limit: {limit_text}")
            page_size = min(limit, page_max)
        expand = [v for key in ("expand", "expand[]") for v in values.get(key, [])]
        if expand:
            fields = frozenset(expand)
        else:
            fields = LIST_DEFAULT_FIELDS
            if _truthy(one("full")):
                fields |= LIST_FULL_FIELDS
            if _truthy(one("config")):
                fields |= {"config"}
            if _truthy(one("cardData")):
                fields |= {"cardData"}
        gated = one("gated")
        return cls(
            sort=sort,
            descending=direction == "-1",
            page_size=page_size,
            cursor=one("cursor"),
            search=(one("search") or "").lower() or None,
            author=(one("author") or "").lower() or None,
            filters=tuple(values.get("filter", [])),
            pipeline_tag=one("pipeline_tag"),
            library=one("library"),
            gated=None if gated is None else _truthy(gated),
            fields=fields,
        )

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Hub-like matching: filters AND together; a filter matches a tag, the pipeline tag or
        the library; search is a case-insensitive substring of the id."""
        repo_id: str = record["id"]
        if self.search is not None and self.search not in repo_id.lower():
            return False
        if self.author is not None:
            author = record.get("author") or (repo_id.split("/", 1)[0] if "/" in repo_id else "")
            if not isinstance(author, str) or author.lower() != self.author:
                return False
        if self.pipeline_tag is not None and record.get("pipeline_tag") != self.pipeline_tag:
            return False
        tags = record.get("tags") or ()
        library = record.get("library_name")
        if self.library is not None and self.library not in tags and library != self.library:
            return False
        for wanted in self.filters:
            if wanted not in tags and wanted != record.get("pipeline_tag") and wanted != library:
                return False
        return self.gated is None or bool(record.get("gated")) == self.gated

    def project(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return _project(record, self.fields)


# --------------------------------------------------------------------------- data sources

_KNOWN_LIBRARIES = (
    "transformers",
    "sentence-transformers",
    "diffusers",
    "timm",
    "peft",
    "gguf",
    "adapter-transformers",
    "spacy",
    "flair",
    "keras",
    "tf-keras",
    "open_clip",
    "speechbrain",
    "espnet",
    "fasttext",
    "stable-baselines3",
    "ml-agents",
    "sample-factory",
    "nemo",
    "pyannote-audio",
    "onnx",
    "mlx",
    "setfit",
    "span-marker",
    "transformers.js",
    "sklearn",
    "fastai",
    "paddlenlp",
    "allennlp",
    "asteroid",
    "ctranslate2",
    "coreml",
)


def _snapshot_rows(path: Path, *, derive_library_name: bool) -> Iterator[dict[str, Any]]:
    """Records from the snapshot CSV, in Hub field names; empty cells become absent fields."""
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            record: dict[str, Any] = {"id": row["modelId"]}
            if row.get("author"):
                record["author"] = row["author"]
            if row.get("downloads"):
                record["downloads"] = int(row["downloads"])
            if row.get("lastModified"):
                record["lastModified"] = _hub_date(datetime.fromisoformat(row["lastModified"]))
            tags = ast.literal_eval(row["tags"]) if row.get("tags") else []
            record["tags"] = [str(tag) for tag in tags]
            if row.get("pipeline_tag"):
                record["pipeline_tag"] = row["pipeline_tag"]
            if row.get("sha"):
                record["sha"] = row["sha"]
            if row.get("private"):
                record["private"] = row["private"] == "True"
            if row.get("inference"):
                record["inference"] = row["inference"]
            if derive_library_name:
                library = next((t for t in record["tags"] if t in _KNOWN_LIBRARIES), None)
                if library is not None:
                    record["library_name"] = library
            yield record


# task -> (model types, library, architecture suffix, auto class)
_TASKS: tuple[tuple[str, tuple[str, ...], str, str, str], ...] = (
    (
        "text-generation",
        ("llama", "mistral", "qwen2", "gemma", "gpt2"),
        "transformers",
        "ForCausalLM",
        "AutoModelForCausalLM",
    ),
    (
        "text-classification",
        ("bert", "roberta", "distilbert", "deberta-v2"),
        "transformers",
        "ForSequenceClassification",
        "AutoModelForSequenceClassification",
    ),
    (
        "token-classification",
        ("bert", "roberta", "xlm-roberta"),
        "transformers",
        "ForTokenClassification",
        "AutoModelForTokenClassification",
    ),
    ("fill-mask", ("bert", "roberta", "albert"), "transformers", "ForMaskedLM", "AutoModelForMaskedLM"),
    (
        "question-answering",
        ("bert", "distilbert", "roberta"),
        "transformers",
        "ForQuestionAnswering",
        "AutoModelForQuestionAnswering",
    ),
    ("summarization", ("bart", "t5", "pegasus"), "transformers", "ForConditionalGeneration", "AutoModelForSeq2SeqLM"),
    ("translation", ("marian", "t5", "m2m_100"), "transformers", "ForConditionalGeneration", "AutoModelForSeq2SeqLM"),
    (
        "automatic-speech-recognition",
        ("whisper", "wav2vec2"),
        "transformers",
        "ForConditionalGeneration",
        "AutoModelForSpeechSeq2Seq",
    ),
    (
        "image-classification",
        ("vit", "convnext", "resnet"),
        "transformers",
        "ForImageClassification",
        "AutoModelForImageClassification",
    ),
    ("object-detection", ("detr", "yolos"), "transformers", "ForObjectDetection", "AutoModelForObjectDetection"),
    ("sentence-similarity", ("bert", "mpnet"), "sentence-transformers", "Model", "AutoModel"),
    ("feature-extraction", ("bert", "xlm-roberta"), "transformers", "Model", "AutoModel"),
    ("text-to-image", ("",), "diffusers", "", ""),
)
_ARCH_PREFIX = {
    "llama": "Llama",
    "mistral": "Mistral",
    "qwen2": "Qwen2",
    "gemma": "Gemma",
    "gpt2": "GPT2",
    "bert": "Bert",
    "roberta": "Roberta",
    "distilbert": "DistilBert",
    "deberta-v2": "DebertaV2",
    "xlm-roberta": "XLMRoberta",
    "albert": "Albert",
    "bart": "Bart",
    "t5": "T5",
    "pegasus": "Pegasus",
    "marian": "Marian",
    "m2m_100": "M2M100",
    "whisper": "Whisper",
    "wav2vec2": "Wav2Vec2",
    "vit": "ViT",
    "convnext": "ConvNext",
    "resnet": "ResNet",
    "detr": "Detr",
    "yolos": "Yolos",
    "mpnet": "MPNet",
}
_AUTHORS = (
    "acme-ai",
    "nlp-lab",
    "vision-co",
    "speechworks",
    "open-models",
    "uni-research",
    "jdoe",
    "asmith",
    "bigscience-x",
    "tiny-llm",
)
_LICENSES = ("apache-2.0", "mit", "cc-by-4.0", "cc-by-nc-4.0", "llama2", "openrail", "other", "bsd-3-clause")
_LANGUAGES = ("en", "fr", "de", "es", "zh", "ja", "ar", "ru", "hi", "multilingual")
_EPOCH_START = datetime(2022, 3, 2, 23, 29, 4, tzinfo=timezone.utc)  # the Hub's oldest createdAt
_EPOCH_SPAN_S = (datetime(2024, 9, 20, tzinfo=timezone.utc) - _EPOCH_START).total_seconds()


def synthetic_records(n: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Yield ``n`` plausible, deterministic model records one at a time (for load tests).

    Varied pipeline tags, ``config.model_type``, ``license:``/language tags, heavy-tailed
    downloads and dates between 2022-03-02 and 2024-09-20. Ids are unique:
    ``{author}/{model_type or library}-{task}-{i:06d}``.
    """
    rng = random.Random(seed)
    for i in range(n):
        task, model_types, library, suffix, auto_class = _TASKS[rng.randrange(len(_TASKS))]
        model_type = rng.choice(model_types)
        author = rng.choice(_AUTHORS)
        license_ = rng.choice(_LICENSES)
        languages = rng.sample(_LANGUAGES, rng.choice((1, 1, 1, 2, 3)))
        created_s = rng.uniform(0, _EPOCH_SPAN_S)
        modified_s = rng.uniform(created_s, _EPOCH_SPAN_S)
        downloads = min(int(rng.lognormvariate(4.0, 3.0)), 500_000_000)
        likes = int((downloads**0.5) * rng.random())
        repo_id = f"{author}/{model_type or library}-{task}-{i:06d}"
        tags = [library, "safetensors"]
        if model_type:
            tags.append(model_type)
        tags += [task, *languages, f"license:{license_}", "region:us"]
        record: dict[str, Any] = {
            "_id": object_id(repo_id),
            "id": repo_id,
            "modelId": repo_id,
            "author": author,
            "sha": f"{rng.getrandbits(160):040x}",
            "private": False,
            "gated": rng.choices((False, "auto", "manual"), weights=(92, 4, 4))[0],
            "downloads": downloads,
            "likes": likes,
            "trendingScore": int(likes * rng.random() / 10),
            "tags": tags,
            "pipeline_tag": task,
            "library_name": library,
            "createdAt": _hub_date(_EPOCH_START + timedelta(seconds=created_s)),
            "lastModified": _hub_date(_EPOCH_START + timedelta(seconds=modified_s)),
            "cardData": {"license": license_, "language": languages, "pipeline_tag": task},
            "siblings": [{"rfilename": name} for name in (".gitattributes", "README.md", "config.json")],
        }
        if library == "diffusers":
            record["config"] = {"diffusers": {"_class_name": "StableDiffusionPipeline"}}
        else:
            architecture = _ARCH_PREFIX[model_type] + suffix
            record["config"] = {"architectures": [architecture], "model_type": model_type}
            params = int(rng.lognormvariate(18.5, 1.5))
            record["safetensors"] = {"parameters": {"F32": params}, "total": params}
            if library == "transformers":
                record["transformersInfo"] = {
                    "auto_model": auto_class,
                    "pipeline_tag": task,
                    "processor": "AutoTokenizer",
                }
        yield record


# --------------------------------------------------------------------------- HTTP


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that can cut open connections so shutdown never waits on a client."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, hub: FakeHub, port: int, verbose: bool) -> None:
        self.hub = hub
        self.verbose = verbose
        self.stop_event = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the Hub; every response has a Content-Length
    server_version = "FakeHub/1.0"
    timeout = 30  # idle keep-alive connections are closed after this
    server: _Server

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _dispatch(self, method: str) -> None:
        hub = self.server.hub
        target = self.path
        hub.last_headers = {name.lower(): value for name, value in self.headers.items()}
        path = urlsplit(target).path
        plan = hub.take_fault(method, path)
        fault = plan.kind if plan is not None else None
        if plan is not None:
            hub.fault_log.append((target, plan.kind))
        if plan is not None and (fault in ("drop", "stall") or (fault == "partial" and method == "HEAD")):
            hub.request_log.append((method, target, 0))  # logged now: a stall may outlive the test step
            if fault == "stall":
                self.server.stop_event.wait(min(plan.stall_s, MAX_STALL_S))
            self.close_connection = True
            return
        if plan is not None and fault != "partial":
            status = int(plan.kind)
            if status == 429:
                wait = plan.retry_after
                message = f"You have been rate-limited; you can retry this action in about {wait} seconds."
                response = _error(429, message, None, ("Retry-After", str(plan.retry_after)))
            else:
                response = _error(status, _ERROR_MESSAGES[status])
        else:
            try:
                response = self._route(method, target)
            except Exception as exc:  # a bug in the fake must show up as a 500, not a hung client
                response = _error(500, f"fake hub error: {type(exc).__name__}: {exc}")
        # Log before sending: once the client has the response, a test may already read the log.
        hub.request_log.append((method, target, 0 if fault == "partial" else response.status))
        self._send(method, response, partial=fault == "partial")

    def _route(self, method: str, target: str) -> _Response:
        hub = self.server.hub
        parts = urlsplit(target)
        params = parse_qsl(parts.query, keep_blank_values=True)
        path = parts.path
        if path in ("/api/models", "/api/models/"):
            try:
                items, cursor = hub.list_page(params)
            except ValueError as exc:
                return _error(400, str(exc), "BadRequest")
            headers: list[tuple[str, str]] = []
            if cursor is not None:
                host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
                next_params = [(k, v) for k, v in params if k != "cursor"] + [("cursor", cursor)]
                headers.append(("Link", f'<http://{host}/api/models?{urlencode(next_params)}>; rel="next"'))
            response = _json_response(200, items, headers)
            if hub.splice:
                body = response.body
                for placeholder, data in hub.splice.items():
                    body = body.replace(json.dumps(placeholder).encode("ascii"), data)
                response = _Response(response.status, response.headers, body)
            return response
        if path.startswith("/api/models/"):
            segments = path[len("/api/models/") :].strip("/").split("/")
            expand = [v for k, v in params if k in ("expand", "expand[]")]
            if len(segments) >= 4 and segments[2] == "revision":
                return hub.model_info("/".join(segments[:2]), unquote("/".join(segments[3:])), expand)
            if len(segments) >= 3 and segments[1] == "revision":
                return hub.model_info(segments[0], unquote("/".join(segments[2:])), expand)
            if len(segments) in (1, 2):
                return hub.model_info(unquote("/".join(segments)), None, expand)
            return _error(404, "Not Found")
        if "/resolve/" in path:
            repo_part, _, rest = path.lstrip("/").partition("/resolve/")
            revision, _, filename = rest.partition("/")
            if repo_part and revision and filename:
                return hub.resolve(
                    method, unquote(repo_part), unquote(revision), unquote(filename), self.headers.get("Range")
                )
        return _error(404, "Not Found")

    def _send(self, method: str, response: _Response, *, partial: bool) -> None:
        self.send_response(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            self.send_header(name, value)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if method == "HEAD":
            return
        if partial:
            self.wfile.write(response.body[: max(1, len(response.body) // 2)])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(response.body)


class HubServer:
    """Serve a :class:`FakeHub` on ``127.0.0.1`` (ephemeral port by default) in a daemon thread.

    ``with HubServer(hub) as server: HfApi(endpoint=server.url) ...``; leaving the block stops
    the server, wakes stalled handlers and cuts open connections, so it returns promptly.
    """

    def __init__(self, hub: FakeHub, *, port: int = 0, verbose: bool = False) -> None:
        self.hub = hub
        self._port = port
        self._verbose = verbose
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` -- pass as ``endpoint=`` to HfApi / hf_hub_download."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HubServer:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._httpd = _Server(self.hub, self._port, self._verbose)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-hub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.stop_event.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Run the fake Hub in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.hub_server", description="Serve a fake Hugging Face Hub on 127.0.0.1."
    )
    parser.add_argument("--csv", type=Path, help="snapshot CSV to serve (e.g. hf_models_2024-09-20.csv)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: ephemeral)")
    parser.add_argument("--synthetic", type=int, default=0, metavar="N", help="add N synthetic models")
    parser.add_argument("--seed", type=int, default=0, help="seed for synthetic models and faults")
    parser.add_argument("--fault-rate", type=float, default=0.0, metavar="R", help="random fault probability")
    parser.add_argument("--fault-kinds", default="429,500,503,drop,stall", help="comma-separated fault kinds")
    parser.add_argument("--stall-s", type=float, default=2.0, help="seconds a 'stall' fault waits")
    parser.add_argument("--derive-library-name", action="store_true", help="library_name from tags (CSV)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if args.csv is None and args.synthetic <= 0:
        parser.error("give --csv PATH and/or --synthetic N")

    hub = FakeHub()
    if args.csv is not None:
        for record in _snapshot_rows(args.csv, derive_library_name=args.derive_library_name):
            hub.add_record(record)
    for record in synthetic_records(args.synthetic, seed=args.seed):
        hub.add_record(record)
    if args.fault_rate > 0:
        hub.faults = Faults(
            rate=args.fault_rate, kinds=tuple(args.fault_kinds.split(",")), seed=args.seed, stall_s=args.stall_s
        )
    with HubServer(hub, port=args.port, verbose=args.verbose) as server:
        print(f"fake Hub with {len(hub)} models at {server.url}  (HF_ENDPOINT={server.url})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
