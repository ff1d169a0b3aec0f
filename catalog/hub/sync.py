"""Sync the catalog from the Hub (or a snapshot file): stream pages, validate items at the boundary, derive facts,
upsert each page in its own transaction together with the listing's resume point.

Killing the process at any moment leaves a consistent database (the page's transaction is rolled back), and the
next run of the same command continues from the stored next-page URL."""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import BigInteger, Integer, bindparam, delete, func, insert, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from catalog.db import schema
from catalog.db.engine import Database
from catalog.db.models import Model, ModelLanguage, ModelTask, SyncState, Task, utcnow
from catalog.errors import CatalogError, DatabaseUnavailableError, UsageError
from catalog.hub.client import (
    HubClient,
    HubError,
    HubResponseError,
    HubUnavailableError,
    listing_params,
    relative_link,
)
from catalog.hub.derive import DerivedModel, Deriver
from catalog.hub.records import (
    MalformedItem,
    Unreadable,
    decode_text,
    json_array_items,
    loads,
    parse_datetime,
    parse_item,
    unreadable_reason,
)
from catalog.settings import redact_url

SORTS = {
    "downloads": "downloads",
    "likes": "likes",
    "trending": "trendingScore",
    "created": "createdAt",
    "modified": "lastModified",
}
MODELS = schema.models
MODEL_TASKS = schema.model_tasks
MODEL_LANGUAGES = schema.model_languages
REPORTED = schema.reported_metrics
SYNC_STATE = schema.sync_state
HUB_OWNED = (
    "downloads",
    "likes",
    "hub_last_modified",
    "hub_created_at",
    "synced_at",
    "author",
    "sha",
    "tags",
    "hub_digest",
)


class Reporter(Protocol):
    def listing_started(self, label: str, total: int | None) -> None: ...
    def page_done(self, label: str, models: int, skipped: int, pages: int) -> None: ...
    def retry(self, reason: str, delay_s: float) -> None: ...
    def listing_finished(self, label: str) -> None: ...


class _Silent:
    def listing_started(self, label: str, total: int | None) -> None:
        pass

    def page_done(self, label: str, models: int, skipped: int, pages: int) -> None:
        pass

    def retry(self, reason: str, delay_s: float) -> None:
        pass

    def listing_finished(self, label: str) -> None:
        pass


@dataclass
class ListingReport:
    label: str
    task: str | None = None
    pages: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    architecture_derived: int = 0
    resumed: bool = False
    resumed_after: int = 0  # models the interrupted run(s) of a resumed listing had already saved
    skip_reasons: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        key = reason.split(":")[0]
        self.skip_reasons[key] = self.skip_reasons.get(key, 0) + 1

    @property
    def stored(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def coverage(self) -> float:
        return self.architecture_derived / self.stored if self.stored else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"architecture_coverage": round(self.coverage(), 4)}


@dataclass
class SyncReport:
    listings: list[ListingReport]
    retries: int = 0
    inherited: int = 0  # architecture kinds filled in from a model's base model after the listings
    taxonomy_models: int = 0  # of the models this run stored: those whose pipeline tag is a taxonomy task
    taxonomy_derived: int = 0  # ... and of those, how many have an architecture kind

    def totals(self) -> ListingReport:
        total = ListingReport(label="total", architecture_derived=self.inherited)
        for item in self.listings:
            for name in ("pages", "fetched", "inserted", "updated", "unchanged", "skipped", "architecture_derived"):
                setattr(total, name, getattr(total, name) + getattr(item, name))
            for reason, count in item.skip_reasons.items():
                total.skip_reasons[reason] = total.skip_reasons.get(reason, 0) + count
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "listings": [item.to_dict() for item in self.listings],
            "total": self.totals().to_dict(),
            "retries": self.retries,
            "inherited_from_base_model": self.inherited,
            "taxonomy_task_models": self.taxonomy_models,
            "taxonomy_task_architecture_coverage": round(self.taxonomy_derived / self.taxonomy_models, 4)
            if self.taxonomy_models
            else 0.0,
        }


def _finish_report(db: Database, report: SyncReport, since: datetime) -> SyncReport:
    report.inherited = inherit_from_base_models(db, since)
    with db.engine.begin() as conn:
        row = conn.execute(
            select(func.count(), func.count(MODELS.c.architecture_id)).where(
                MODELS.c.synced_at >= since, MODELS.c.pipeline_tag.in_(select(Task.id))
            )
        ).one()
    report.taxonomy_models, report.taxonomy_derived = int(row[0]), int(row[1])
    return report


def inherit_from_base_models(db: Database, since: datetime, max_depth: int = 3) -> int:
    """Fill the architecture kind (and family) of fine-tunes, adapters and quantisations from their base model
    (`base_model:` tags), for rows synced since `since`. Returns how many rows were filled."""
    filled = 0
    for _ in range(max_depth):
        with db.write() as conn:
            base = MODELS.alias("base")
            rows = conn.execute(
                select(MODELS.c.id, MODELS.c.provenance, base.c.id, base.c.architecture_id, base.c.family_id)
                .join(base, base.c.id == MODELS.c.base_model)
                .where(
                    MODELS.c.architecture_id.is_(None),
                    base.c.architecture_id.is_not(None),
                    MODELS.c.synced_at >= since,
                )
            ).all()
            if not rows:
                break
            conn.execute(
                update(MODELS)
                .where(MODELS.c.id == bindparam("_id"))
                .values(
                    architecture_id=bindparam("architecture_id"),
                    family_id=bindparam("family_id"),
                    provenance=bindparam("provenance"),
                    updated_at=MODELS.c.updated_at,
                ),
                [
                    {
                        "_id": model_id,
                        "architecture_id": architecture,
                        "family_id": family,
                        "provenance": dict(provenance or {})
                        | {"architecture": f"derived from base model {base_id}"}
                        | ({"family": f"derived from base model {base_id}"} if family else {}),
                    }
                    for model_id, provenance, base_id, architecture, family in rows
                ],
            )
            filled += len(rows)
    return filled


# ------------------------------------------------------------------------------------------------- upserts


def _child_rows(derived: Sequence[DerivedModel]) -> tuple[list[dict[str, Any]], ...]:
    tasks: list[dict[str, Any]] = []
    languages: list[dict[str, Any]] = []
    reported: list[dict[str, Any]] = []
    for item in derived:
        model_id = item.values["id"]
        tasks.extend({"model_id": model_id, "task_id": t[:64], "position": i} for i, t in enumerate(item.tasks))
        languages.extend(
            {"model_id": model_id, "language": code, "position": i} for i, code in enumerate(item.languages)
        )
        reported.extend({"model_id": model_id, **metric} for metric in item.reported)
    return tasks, languages, reported


def upsert_page(conn: Connection, derived: Sequence[DerivedModel], source: str, report: ListingReport) -> None:
    """Write one page: insert new models, rewrite changed ones, leave unchanged ones (only their sync time moves).
    Curated models keep their reviewed facts; only Hub-owned figures (downloads, dates ...) are refreshed."""
    by_id: dict[str, DerivedModel] = {}
    for item in derived:
        by_id[item.values["id"]] = item  # the last occurrence of a duplicated id wins
    if not by_id:
        return
    now = utcnow()
    existing = {
        row.id: row
        for row in conn.execute(
            select(MODELS.c.id, MODELS.c.hub_digest, MODELS.c.curated, MODELS.c.provenance).where(
                MODELS.c.id.in_(list(by_id))
            )
        )
    }
    new, changed, curated_changed, unchanged = [], [], [], []
    derived_kinds = 0
    for model_id, item in by_id.items():
        row = existing.get(model_id)
        if row is None:
            new.append(item)
        elif row.hub_digest == item.values["hub_digest"]:
            unchanged.append(model_id)
        elif row.curated:
            curated_changed.append((item, row.provenance or {}))
        else:
            changed.append(item)
        if item.architecture_derived or (row is not None and row.curated):
            derived_kinds += 1

    if new:
        conn.execute(
            insert(MODELS),
            [
                item.values
                | {
                    "curated": False,
                    "description": "",
                    "source": source,
                    "provenance": item.provenance,
                    "created_at": now,
                    "updated_at": now,
                }
                for item in new
            ],
        )
    if changed:
        ids = [item.values["id"] for item in changed]
        for table in (MODEL_TASKS, MODEL_LANGUAGES, REPORTED):
            conn.execute(delete(table).where(table.c.model_id.in_(ids)))
        columns = [c for c in changed[0].values if c != "id"]
        statement = (
            update(MODELS)
            .where(MODELS.c.id == bindparam("_id"))
            .values(
                {c: bindparam(c) for c in columns}
                | {"provenance": bindparam("provenance"), "source": source, "updated_at": now}
            )
        )
        conn.execute(
            statement,
            [{"_id": item.values["id"], "provenance": item.provenance} | {c: item.values[c] for c in columns}
             for item in changed],
        )  # fmt: skip
    if curated_changed:
        statement = (
            update(MODELS)
            .where(MODELS.c.id == bindparam("_id"))
            .values({c: bindparam(c) for c in HUB_OWNED} | {"provenance": bindparam("provenance"), "updated_at": now})
        )
        conn.execute(
            statement,
            [
                {"_id": item.values["id"], "provenance": dict(prov) | {"downloads": item.provenance["downloads"]}}
                | {c: item.values[c] for c in HUB_OWNED}
                for item, prov in curated_changed
            ],
        )
    insert_children = new + changed
    tasks, languages, reported = _child_rows(insert_children)
    if tasks:
        conn.execute(insert(MODEL_TASKS), tasks)
    if languages:
        conn.execute(insert(MODEL_LANGUAGES), languages)
    if reported:
        conn.execute(insert(REPORTED), reported)
    from catalog.evidence.hub import store_hub_evidence  # model-index and eval results are quality evidence too

    synced = [*insert_children, *(item for item, _ in curated_changed)]
    store_hub_evidence(conn, [(item.values["id"], item.reported) for item in synced],
                       {item.values["id"]: item.eval_results for item in synced if item.eval_results})  # fmt: skip
    if unchanged:
        conn.execute(
            update(MODELS).where(MODELS.c.id.in_(unchanged)).values(synced_at=now, updated_at=MODELS.c.updated_at)
        )
        # where the facts were last confirmed (also replaces a source stored with credentials by older versions)
        conn.execute(
            update(MODELS)
            .where(MODELS.c.id.in_(unchanged), MODELS.c.curated.is_(False), MODELS.c.source != source)
            .values(source=source, updated_at=MODELS.c.updated_at)
        )
    report.architecture_derived += derived_kinds
    report.inserted += len(new)
    report.updated += len(changed) + len(curated_changed)
    report.unchanged += len(unchanged)


# Errors the database raises for a value it cannot hold (not for a lock or a lost connection): a page that
# fails with one of these is written again item by item, and the items refused are counted skips.
_REFUSED = (sa_exc.DataError, sa_exc.IntegrityError, OverflowError, UnicodeEncodeError)


def write_page(conn: Connection, derived: Sequence[DerivedModel], source: str, report: ListingReport) -> int:
    """upsert_page in a savepoint; when the database refuses the page, each item in its own savepoint, counting
    the refused ones as skips (returned) so that one item the checks did not foresee cannot stop a listing."""
    try:
        with conn.begin_nested():
            upsert_page(conn, derived, source, report)
        return 0
    except _REFUSED:
        pass
    refused = 0
    for item in derived:
        try:
            with conn.begin_nested():
                upsert_page(conn, [item], source, report)
        except _REFUSED as exc:
            refused += 1
            report.skip(f"refused by the database ({type(exc).__name__})")
    return refused


def _unstorable(derived: DerivedModel) -> str | None:
    """Why a derived model's values cannot be stored (text too long for its column, a NUL character, an integer
    or float the column cannot hold), or None. Checked against the table definitions, so a new column is too."""
    rows: list[tuple[Any, dict[str, Any]]] = [(MODELS, derived.values)]
    rows += [(MODEL_TASKS, {"task_id": task}) for task in derived.tasks]
    rows += [(MODEL_LANGUAGES, {"language": code}) for code in derived.languages]
    rows += [(REPORTED, metric) for metric in derived.reported]
    for table, values in rows:
        for name, value in values.items():
            column = table.c.get(name)
            if column is None or value is None:
                continue
            kind = column.type
            if isinstance(value, str):
                if "\x00" in value:
                    return f"{name} contains a NUL character"
                length = getattr(kind, "length", None)
                if length is not None and len(value) > length:
                    return f"{name} is longer than {length} characters"
            elif isinstance(value, float) and not math.isfinite(value):
                return f"{name} is not a finite number"
            elif isinstance(value, int) and not isinstance(value, bool):
                limit = 2**63 - 1 if isinstance(kind, BigInteger) else 2**31 - 1 if isinstance(kind, Integer) else None
                if limit is not None and not -limit <= value <= limit:
                    return f"{name} is out of range"
    return None


def _derive_all(
    items: Iterable[Any], deriver: Deriver, report: ListingReport, synced_at: datetime, downloads_label: str
) -> Iterator[DerivedModel]:
    for raw in items:
        report.fetched += 1
        try:
            record = parse_item(raw)
            derived = deriver.derive(record, synced_at)
            problem = _unstorable(derived)
        except MalformedItem as exc:
            report.skip(str(exc))
            continue
        except (RecursionError, MemoryError, ArithmeticError, ValueError, TypeError, KeyError) as exc:
            # Not foreseen by the checks above: still one item, counted under the error's name, not a stopped sync.
            report.skip(f"could not be read ({type(exc).__name__})")
            continue
        if problem is not None:
            report.skip(problem)
            continue
        derived.provenance["downloads"] = downloads_label
        yield derived


# ------------------------------------------------------------------------------------------------- live sync


def _state_key(
    task: str | None,
    sort: str,
    author: str | None,
    search: str | None,
    since: datetime | None,
    endpoint: str | None = None,
) -> str:
    """The listing's resume key. It names the endpoint (credentials removed): a listing resumed after switching
    mirror starts afresh on the new one instead of following the old host's cursor."""
    parts = [f"task={task or '*'}", f"sort={sort}"]
    if author:
        parts.append(f"author={author}")
    if search:
        parts.append(f"search={search}")
    if since:
        parts.append(f"since={since.date().isoformat()}")
    if endpoint:
        parts.append(f"hub={redact_url(endpoint)}")
    key = "|".join(parts)
    if len(key) > 255:  # the column's width: keep keys distinct with a digest of the whole
        key = key[:222] + "|" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return key


def resolve_sync_tasks(db: Database, tasks: Sequence[str]) -> list[str]:
    from catalog.queries import resolve_task

    with db.session() as session:
        if not tasks:
            return list(session.scalars(select(Task.id).order_by(Task.position)))
        return list(dict.fromkeys(resolve_task(session, name) for name in tasks))


def sync_from_hub(
    db: Database,
    *,
    tasks: Sequence[str] = (),
    limit: int | None = None,
    sort: str = "downloads",
    since: datetime | None = None,
    author: str | None = None,
    search: str | None = None,
    endpoint: str | None = None,
    reporter: Reporter | None = None,
    client: HubClient | None = None,
    page_size: int = 1000,
) -> SyncReport:
    """Sync each task's listing (all taxonomy tasks when none given), up to `limit` models per task."""
    if sort not in SORTS:
        raise UsageError(f"Unknown sort {sort!r}: use one of {', '.join(SORTS)}.")
    if limit is not None and limit <= 0:
        raise UsageError(f"--limit must be a positive number, not {limit}.")
    if since is not None and sort not in ("modified", "created"):
        sort = "modified"  # --since needs results newest first to know when to stop
    reporter = reporter or _Silent()
    task_ids = resolve_sync_tasks(db, tasks)
    client = client or HubClient(endpoint, on_retry=reporter.retry)
    with db.session() as session:
        deriver = Deriver.from_session(session)
    report = SyncReport(listings=[])
    run_started = utcnow()
    for task_id in task_ids:
        listing = ListingReport(label=task_id, task=task_id)
        report.listings.append(listing)
        try:
            _sync_listing(db, client, deriver, listing, task_id, limit, sort, since, author, search, reporter,
                          page_size)  # fmt: skip
        except HubUnavailableError as exc:
            done = sum(item.stored + item.resumed_after for item in report.listings)
            garbled = isinstance(exc, HubResponseError)
            problem = "did not send a model listing" if garbled else "is not answering"
            raise HubUnavailableError(
                f"The Hub at {client.display_endpoint} {problem} ({exc}) while syncing {task_id} "
                f"(page {listing.pages + 1}); {done} models synced so far are saved. Run the same command again "
                "to continue from there."
                + (" If this happens again, check that HF_ENDPOINT points at a Hub API." if garbled else "")
            ) from exc
        finally:
            report.retries = client.retries
    return _finish_report(db, report, run_started)


def _sync_listing(
    db: Database,
    client: HubClient,
    deriver: Deriver,
    listing: ListingReport,
    task_id: str | None,
    limit: int | None,
    sort: str,
    since: datetime | None,
    author: str | None,
    search: str | None,
    reporter: Reporter,
    page_size: int,
) -> None:
    from huggingface_hub.errors import HfHubHTTPError

    key = _state_key(task_id, sort, author, search, since, client.endpoint)
    legacy_key = _state_key(task_id, sort, author, search, since)  # before resume points named their endpoint
    with db.engine.begin() as conn:
        state = conn.execute(select(SYNC_STATE).where(SYNC_STATE.c.key == key)).first()
    start: str | None = None
    already = 0
    if state is not None and state.completed_at is None and state.next_url:
        # --limit counts every item the listing gave, skipped ones too: the resumed run goes on from the same
        # place in the listing and stores the same models as one uninterrupted run.
        start, already = relative_link(state.next_url, client.endpoint), state.models + state.skipped
        listing.resumed, listing.resumed_after = True, state.models
    else:
        with db.write() as conn:
            conn.execute(delete(SYNC_STATE).where(SYNC_STATE.c.key.in_([key, legacy_key])))
            conn.execute(
                insert(SYNC_STATE),
                {
                    "key": key,
                    "task_id": task_id,
                    "query": {"task": task_id, "sort": sort, "author": author, "search": search,
                              "since": since.isoformat() if since else None, "limit": limit,
                              "endpoint": client.display_endpoint},
                    "pages": 0, "models": 0, "skipped": 0, "started_at": utcnow(), "updated_at": utcnow(),
                },
            )  # fmt: skip
    remaining = None if limit is None else max(limit - already, 0)
    reporter.listing_started(task_id or "all", limit)
    if remaining == 0:
        _finish_state(db, key)
        reporter.listing_finished(task_id or "all")
        return
    size = min(page_size, remaining) if remaining else page_size
    params = listing_params(task=task_id, sort=SORTS[sort], author=author, search=search, page_size=size)
    source = f"hub:{client.display_endpoint}"[:255]
    label = "reported: Hub downloads (30 days) at sync time"
    try:
        for page in client.list_pages(params, start=start):
            synced_at = utcnow()
            items = page.items
            stop = False
            if since is not None:
                kept = []
                for raw in items:
                    stamp = (
                        raw.get("lastModified" if sort == "modified" else "createdAt")
                        if isinstance(raw, dict)
                        else None
                    )
                    try:
                        when = parse_datetime(stamp, "date")
                    except MalformedItem:
                        when = None
                    if when is not None and when < since:
                        stop = True
                        break
                    kept.append(raw)
                items = kept
            if remaining is not None and len(items) >= remaining:
                items, stop = items[:remaining], True
            derived = list(_derive_all(items, deriver, listing, synced_at, label))
            with db.write() as conn:
                refused = write_page(conn, derived, source, listing)
                next_url = None if stop else page.next_url  # path and query only
                conn.execute(
                    update(SYNC_STATE)
                    .where(SYNC_STATE.c.key == key)
                    .values(
                        next_url=next_url,
                        pages=SYNC_STATE.c.pages + 1,
                        models=SYNC_STATE.c.models + len(derived) - refused,
                        skipped=SYNC_STATE.c.skipped + (len(items) - len(derived) + refused),
                        updated_at=utcnow(),
                        completed_at=utcnow() if next_url is None else None,
                    )
                )
            listing.pages += 1
            if remaining is not None:
                remaining -= len(derived) + (len(items) - len(derived))
            reporter.page_done(task_id or "all", listing.stored, listing.skipped, listing.pages)
            if stop:
                break
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        hint = " Check HF_TOKEN." if status in (401, 403) else ""
        raise HubError(f"The Hub refused the listing for {task_id or 'all models'} (HTTP {status}).{hint}") from exc
    reporter.listing_finished(task_id or "all")


def _finish_state(db: Database, key: str) -> None:
    with db.write() as conn:
        conn.execute(
            update(SYNC_STATE)
            .where(SYNC_STATE.c.key == key)
            .values(next_url=None, completed_at=utcnow(), updated_at=utcnow())
        )


# ------------------------------------------------------------------------------------------------- snapshots


MAX_CSV_FIELD = 1 << 24  # 16 MiB: a longer CSV field is a counted skip (the csv module's own limit is 128 KiB)
MAX_LINE_BYTES = 1 << 26  # 64 MiB: a longer JSON line is a counted skip, not a process filling its memory


def _snapshot_items(path: Path, report: ListingReport) -> Iterator[Any]:
    """Items of a snapshot file. A row or line that cannot be read (not UTF-8, not JSON, nested too deeply, a
    field over the limit, unparseable tags) becomes `Unreadable`, a counted skip; only a file that is not a
    snapshot at all (wrong columns, not a JSON array) is refused, before anything is written."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_items(path)
    elif suffix in (".jsonl", ".ndjson", ".json"):
        yield from _json_items(path)
    else:
        raise UsageError(f"{path}: unknown snapshot format; use .jsonl (Hub list_models items) or .csv.")


def _json_items(path: Path) -> Iterator[Any]:
    with path.open("rb") as handle:
        head = handle.read(4096).removeprefix(b"\xef\xbb\xbf").lstrip()
        handle.seek(0)
        if head.startswith(b"["):  # one JSON array of items
            try:
                items = json_array_items(decode_text(handle.read()))
            except ValueError as exc:
                raise CatalogError(
                    f"{path}: not a JSON array of items (it starts with '[') nor JSON Lines; fix or re-export it."
                ) from exc
            yield from items
            return
        number = 0
        while True:
            line = handle.readline(MAX_LINE_BYTES)
            if not line:
                return
            number += 1
            if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
                while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass  # the rest of the over-long line
                yield Unreadable(f"line over {MAX_LINE_BYTES >> 20} MiB: line {number}")
                continue
            if number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 BOM
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                yield Unreadable(f"not UTF-8: line {number}")
                continue
            try:
                yield loads(text)
            except (ValueError, RecursionError, MemoryError) as exc:
                yield Unreadable(f"{unreadable_reason(exc)}: line {number}")


def _csv_items(path: Path) -> Iterator[Any]:
    import ast
    import csv

    csv.field_size_limit(MAX_CSV_FIELD)
    # utf-8-sig drops a BOM; bytes that are not UTF-8 become lone surrogates, which parse_item refuses.
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.DictReader(handle)
        try:
            columns = list(reader.fieldnames or [])
        except csv.Error as exc:
            raise CatalogError(f"{path}: the CSV header cannot be read ({exc}).") from exc
        if not {"modelId", "tags"} <= set(columns):
            raise CatalogError(
                f"{path}: a CSV snapshot needs the columns modelId and tags (like the Hub list_models dump); "
                f"found {', '.join(c[:40] for c in columns[:20])}."
            )
        number = 0
        while True:
            number += 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Unreadable(f"unreadable CSV row: row {number} ({str(exc)[:80]})")
                continue
            tags_text = row.get("tags")
            tags: Any = []
            if tags_text:
                try:
                    tags = ast.literal_eval(tags_text)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    yield Unreadable(f"tags is not a list of strings: row {number}")
                    continue
            item: dict[str, Any] = {"id": row.get("modelId"), "tags": tags}
            for column in ("author", "pipeline_tag", "sha", "lastModified", "createdAt", "library_name",
                           "downloads", "likes", "private"):  # fmt: skip
                if row.get(column):
                    item[column] = row[column]  # counts stay text: parse_item reads ASCII digits only
            yield item


def import_snapshot(db: Database, path: Path, *, reporter: Reporter | None = None, batch: int = 1000) -> SyncReport:
    """Import a snapshot file (JSON Lines of list_models items, or the CSV dump format), batch by batch.

    Restartable rather than all-or-nothing: each batch is its own short write transaction (other writers are
    not held up for the whole file) and an upsert, so if an import stops part-way (a lost connection, a full
    disk, a kill) running it again finishes the job, with the batches already written counting as unchanged.
    Nothing an item holds can stop it: unreadable and unusable items are counted skips."""
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "not found"
        raise CatalogError(f"Snapshot file {path} {what}: give a .jsonl or .csv file.")
    reporter = reporter or _Silent()
    name = os.fsencode(path.name).decode("utf-8", "backslashreplace")  # a file name that is not UTF-8
    listing = ListingReport(label=f"snapshot {name}")
    with db.session() as session:
        deriver = Deriver.from_session(session)
    source = f"snapshot:{name}"[:255]
    stamp = datetime.fromtimestamp(path.stat().st_mtime).date().isoformat()
    label = f"reported: Hub downloads (30 days) in snapshot {name} (file dated {stamp})"
    reporter.listing_started(listing.label, None)
    synced_at = utcnow()
    pending: list[DerivedModel] = []

    def flush() -> None:
        try:
            with db.write() as conn:
                write_page(conn, pending, source, listing)
        except sa_exc.DBAPIError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0][:200] if str(exc.orig or exc).strip() else ""
            raise DatabaseUnavailableError(
                f"Importing {name} stopped after {listing.stored} models ({type(exc).__name__}: {reason}); "
                "those are saved. Run the same command again: models already imported count as unchanged."
            ) from exc
        listing.pages += 1
        reporter.page_done(listing.label, listing.stored, listing.skipped, listing.pages)
        pending.clear()

    for derived in _derive_all(_snapshot_items(path, listing), deriver, listing, synced_at, label):
        pending.append(derived)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    reporter.listing_finished(listing.label)
    return _finish_report(db, SyncReport(listings=[listing]), synced_at)


def export_snapshot(db: Database, path: Path) -> int:
    """Write every Hub model in the catalog as JSON Lines in the Hub's own field names; returns the count.

    The file appears whole or not at all: it is written to a fresh temporary file (an unpredictable name,
    created exclusively, so a planted symlink is never followed) in the same directory, then renamed over
    `path` (a symlink at `path` is replaced, not followed)."""
    directory = path.parent
    if path.is_dir():
        raise UsageError(f"--export-snapshot {path} is a directory: give a file name, such as {path / 'models.jsonl'}.")
    if not directory.is_dir():
        problem = "is not a directory" if directory.exists() else "does not exist; create it first"
        raise UsageError(f"--export-snapshot {path}: {directory} {problem}.")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name[:64]}.", suffix=".partial", dir=directory)
    except OSError as exc:
        raise CatalogError(f"Cannot write in {directory}: {exc.strerror}. Choose a writable place.") from exc
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)  # mkstemp creates 0600; an export is an ordinary file
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            count = _write_snapshot(db, out)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise CatalogError(f"Cannot write {path}: {exc.strerror}. Nothing was written.") from exc
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count


def _write_snapshot(db: Database, out: Any) -> int:
    count = 0
    with db.session() as session:
        languages: dict[str, list[str]] = {}
        for model_id, code in session.execute(
            select(ModelLanguage.model_id, ModelLanguage.language).order_by(
                ModelLanguage.model_id, ModelLanguage.position
            )
        ):
            languages.setdefault(model_id, []).append(code)
        query = select(Model).where(Model.api_only.is_(False)).order_by(Model.id).execution_options(yield_per=2000)
        for model in session.scalars(query):
            item: dict[str, Any] = {"id": model.id, "modelId": model.id}
            if model.author:
                item["author"] = model.author
            if model.pipeline_tag:
                item["pipeline_tag"] = model.pipeline_tag
            if model.library:
                item["library_name"] = model.library
            item["tags"] = list(model.tags or [])
            if model.downloads is not None:
                item["downloads"] = model.downloads
            if model.likes is not None:
                item["likes"] = model.likes
            if model.hub_last_modified:
                item["lastModified"] = model.hub_last_modified.isoformat(timespec="milliseconds") + "Z"
            if model.hub_created_at:
                item["createdAt"] = model.hub_created_at.isoformat(timespec="milliseconds") + "Z"
            item["gated"] = model.gated
            if model.sha:
                item["sha"] = model.sha
            card: dict[str, Any] = {}
            if model.license:
                card["license"] = model.license
            if languages.get(model.id):
                card["language"] = languages[model.id]
            if card:
                item["cardData"] = card
            if model.model_type:
                item["config"] = {"model_type": model.model_type}
            if model.params and "safetensors" in (model.provenance or {}).get("params", ""):
                item["safetensors"] = {"total": model.params}
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
            count += 1
    return count


# ------------------------------------------------------------------------------------------------- status


@dataclass(frozen=True)
class TaskSyncStatus:
    task: str
    models: int
    synced: int
    oldest_sync: datetime | None
    newest_sync: datetime | None
    last_completed: datetime | None
    in_progress: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sync_status(db: Database) -> list[TaskSyncStatus]:
    with db.session() as session:
        rows = session.execute(
            select(
                ModelTask.task_id,
                func.count(),
                func.count(Model.synced_at),
                func.min(Model.synced_at),
                func.max(Model.synced_at),
            )
            .join(Model, Model.id == ModelTask.model_id)
            .group_by(ModelTask.task_id)
        ).all()
        states: dict[str, tuple[datetime | None, bool]] = {}
        for state in session.scalars(select(SyncState)):
            task = state.task_id or "*"
            done, running = states.get(task, (None, False))
            if state.completed_at and (done is None or state.completed_at > done):
                done = state.completed_at
            states[task] = (done, running or (state.completed_at is None and bool(state.next_url)))
        order = {t: i for i, t in enumerate(session.scalars(select(Task.id).order_by(Task.position)))}
    result = [
        TaskSyncStatus(
            task=task,
            models=count,
            synced=synced,
            oldest_sync=oldest,
            newest_sync=newest,
            last_completed=states.get(task, (None, False))[0],
            in_progress=states.get(task, (None, False))[1],
        )
        for task, count, synced, oldest, newest in rows
    ]
    result.sort(key=lambda s: (order.get(s.task, len(order)), s.task))
    return result
