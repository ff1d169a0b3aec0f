"""Sync the catalog from the Hub (or a snapshot file): stream pages, validate items at the boundary, derive facts,
upsert each page in its own transaction together with the listing's resume point.

Killing the process at any moment leaves a consistent database (the page's transaction is rolled back), and the
next run of the same command continues from the stored next-page URL."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from catalog.db import schema
from catalog.db.engine import Database
from catalog.db.models import Model, ModelLanguage, ModelTask, SyncState, Task, utcnow
from catalog.errors import CatalogError, UsageError
from catalog.hub.client import HubClient, HubError, HubUnavailableError, listing_params
from catalog.hub.derive import DerivedModel, Deriver
from catalog.hub.records import MalformedItem, parse_datetime, parse_item

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
    skip_reasons: dict[str, int] = field(default_factory=dict)

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
            report.architecture_derived += 1

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
            .values({c: bindparam(c) for c in columns} | {"provenance": bindparam("provenance"), "updated_at": now})
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
    if unchanged:
        conn.execute(
            update(MODELS).where(MODELS.c.id.in_(unchanged)).values(synced_at=now, updated_at=MODELS.c.updated_at)
        )
    report.inserted += len(new)
    report.updated += len(changed) + len(curated_changed)
    report.unchanged += len(unchanged)


def _derive_all(
    items: Iterable[Any], deriver: Deriver, report: ListingReport, synced_at: datetime, downloads_label: str
) -> Iterator[DerivedModel]:
    for raw in items:
        report.fetched += 1
        try:
            record = parse_item(raw)
        except MalformedItem as exc:
            report.skipped += 1
            reason = str(exc).split(":")[0]
            report.skip_reasons[reason] = report.skip_reasons.get(reason, 0) + 1
            continue
        derived = deriver.derive(record, synced_at)
        derived.provenance["downloads"] = downloads_label
        yield derived


# ------------------------------------------------------------------------------------------------- live sync


def _state_key(task: str | None, sort: str, author: str | None, search: str | None, since: datetime | None) -> str:
    parts = [f"task={task or '*'}", f"sort={sort}"]
    if author:
        parts.append(f"author={author}")
    if search:
        parts.append(f"search={search}")
    if since:
        parts.append(f"since={since.date().isoformat()}")
    return "|".join(parts)[:255]


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
            done = sum(item.stored for item in report.listings)
            raise HubUnavailableError(
                f"The Hub at {client.endpoint} is not answering ({exc}) while syncing {task_id} "
                f"(page {listing.pages + 1}); {done} models synced so far are saved. Run the same command again "
                "to continue from there."
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

    key = _state_key(task_id, sort, author, search, since)
    with db.engine.begin() as conn:
        state = conn.execute(select(SYNC_STATE).where(SYNC_STATE.c.key == key)).first()
    start_url: str | None = None
    already = 0
    if state is not None and state.completed_at is None and state.next_url:
        start_url, already = state.next_url, state.models
        listing.resumed = True
    else:
        with db.write() as conn:
            conn.execute(delete(SYNC_STATE).where(SYNC_STATE.c.key == key))
            conn.execute(
                insert(SYNC_STATE),
                {
                    "key": key,
                    "task_id": task_id,
                    "query": {"task": task_id, "sort": sort, "author": author, "search": search,
                              "since": since.isoformat() if since else None, "limit": limit},
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
    source = f"hub:{client.endpoint}"
    label = "reported: Hub downloads (30 days) at sync time"
    try:
        for page in client.list_pages(params, start_url=start_url):
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
                upsert_page(conn, derived, source, listing)
                next_url = None if stop else page.next_url
                conn.execute(
                    update(SYNC_STATE)
                    .where(SYNC_STATE.c.key == key)
                    .values(
                        next_url=next_url,
                        pages=SYNC_STATE.c.pages + 1,
                        models=SYNC_STATE.c.models + len(derived),
                        skipped=SYNC_STATE.c.skipped + (len(items) - len(derived)),
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


def _snapshot_items(path: Path, report: ListingReport) -> Iterator[Any]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        import ast
        import csv

        csv.field_size_limit(1 << 24)
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            required = {"modelId", "tags"}
            if not required <= set(reader.fieldnames or []):
                raise CatalogError(
                    f"{path}: a CSV snapshot needs the columns modelId and tags (like the Hub list_models dump); "
                    f"found {', '.join(reader.fieldnames or [])}."
                )
            for row in reader:
                try:
                    tags = ast.literal_eval(row["tags"]) if row.get("tags") else []
                except (ValueError, SyntaxError):
                    tags = None  # parse_item rejects it and the row is counted as skipped
                item: dict[str, Any] = {"id": row.get("modelId"), "tags": tags}
                for column, name in (("author", "author"), ("pipeline_tag", "pipeline_tag"), ("sha", "sha"),
                                     ("lastModified", "lastModified"), ("createdAt", "createdAt"),
                                     ("library_name", "library_name")):  # fmt: skip
                    if row.get(column):
                        item[name] = row[column]
                for column in ("downloads", "likes"):
                    if row.get(column):
                        value = row[column]
                        item[column] = int(value) if value.isdigit() else value
                if row.get("private"):
                    item["private"] = row["private"]
                yield item
    elif suffix in (".jsonl", ".ndjson") or suffix == ".json":
        with path.open(encoding="utf-8") as handle:
            first = handle.read(1)
            handle.seek(0)
            if first == "[":
                try:
                    yield from json.load(handle)
                except json.JSONDecodeError as exc:
                    raise CatalogError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}).") from exc
                return
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    yield {"__malformed__": f"line {number} is not JSON"}
    else:
        raise UsageError(f"{path}: unknown snapshot format; use .jsonl (Hub list_models items) or .csv.")


def import_snapshot(db: Database, path: Path, *, reporter: Reporter | None = None, batch: int = 1000) -> SyncReport:
    """Import a snapshot file (JSON Lines of list_models items, or the CSV dump format), batch by batch."""
    if not path.is_file():
        raise CatalogError(f"Snapshot file {path} not found.")
    reporter = reporter or _Silent()
    listing = ListingReport(label=f"snapshot {path.name}")
    with db.session() as session:
        deriver = Deriver.from_session(session)
    source = f"snapshot:{path.name}"[:255]
    stamp = datetime.fromtimestamp(path.stat().st_mtime).date().isoformat()
    label = f"reported: Hub downloads (30 days) in snapshot {path.name} (file dated {stamp})"
    reporter.listing_started(listing.label, None)
    synced_at = utcnow()
    pending: list[DerivedModel] = []
    for derived in _derive_all(_snapshot_items(path, listing), deriver, listing, synced_at, label):
        pending.append(derived)
        if len(pending) >= batch:
            with db.write() as conn:
                upsert_page(conn, pending, source, listing)
            listing.pages += 1
            reporter.page_done(listing.label, listing.stored, listing.skipped, listing.pages)
            pending = []
    if pending:
        with db.write() as conn:
            upsert_page(conn, pending, source, listing)
        listing.pages += 1
        reporter.page_done(listing.label, listing.stored, listing.skipped, listing.pages)
    reporter.listing_finished(listing.label)
    return _finish_report(db, SyncReport(listings=[listing]), synced_at)


def export_snapshot(db: Database, path: Path) -> int:
    """Write every Hub model in the catalog as JSON Lines in the Hub's own field names; returns the count."""
    count = 0
    tmp = path.with_name(path.name + ".partial")
    with db.session() as session, tmp.open("w", encoding="utf-8") as out:
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
    tmp.replace(path)
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
