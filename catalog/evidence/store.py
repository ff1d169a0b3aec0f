"""Write one source's evidence in one transaction, replacing what an earlier import of the same source wrote.

The source's old rows and facts are deleted and the new ones inserted in the same transaction, while the items
stream from the importer; any error (a malformed or truncated file) rolls the whole transaction back, so the
database is either as before or holds the complete new import, never a mix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from catalog.db.schema import evidence, evidence_sources, models, reported_facts, utcnow
from catalog.evidence.identity import ModelIds
from catalog.evidence.records import EvidenceRecord, FactRecord, ImportReport, Parsed, Skipped, SourceInfo

if TYPE_CHECKING:
    from catalog.db.engine import Database

_BATCH = 1000


def register_source(connection: Connection, source: SourceInfo) -> None:
    """The source's evidence_sources row, with nothing imported yet (counts are set when its rows are written)."""
    connection.execute(
        evidence_sources.insert().values(
            key=source.key,
            kind=source.kind,
            name=source.name,
            format=source.format,
            location=source.location,
            revision=source.revision,
            published_at=source.published_at,
            imported_at=utcnow(),
            rows_read=0,
            rows_imported=0,
            skipped={},
        )
    )


def _as_catalog_model(record: EvidenceRecord, ids: ModelIds) -> EvidenceRecord:
    """The record under the catalog's id for its model where the source spells it otherwise (a pre-2024 Hub id,
    another case: catalog.evidence.identity); the source's spelling is kept in details as published_as. Rows of
    models the catalog does not hold yet keep their id, and reads resolve them (the ranking, catalog show)."""
    model_id = ids.resolve(record.model_id)
    if model_id is None or model_id == record.model_id:
        return record
    return replace(record, model_id=model_id, details={**record.details, "published_as": record.model_id})


def _row(record: EvidenceRecord, parsed: Parsed) -> dict[str, Any]:
    source = parsed.source
    return {
        "source_key": source.key,
        "model_id": record.model_id,
        "task_id": record.task_id,
        "dataset": record.dataset,
        "dataset_config": record.dataset_config,
        "split": record.split,
        "metric": record.metric,
        "metric_raw": record.metric_raw[:128],
        "value": record.value,
        "higher_is_better": record.higher_is_better,
        "n_shot": record.n_shot,
        "protocol": record.protocol,
        "harness": record.harness,
        "harness_version": record.harness_version,
        "source_kind": record.source_kind or source.kind,
        "source_name": record.source_name or source.name,
        "source_url": record.source_url,
        "source_date": record.source_date or source.published_at,
        "self_reported": record.self_reported,
        "verified": record.verified,
        "n_examples": record.n_examples,
        "details": record.details,
    }


def write_source(connection: Connection, parsed: Parsed, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Replace `parsed.source`'s rows with the items it yields, in the caller's transaction."""
    source = parsed.source
    report = ImportReport(source=source)
    report.replaced = int(
        connection.execute(
            select(func.count()).select_from(evidence).where(evidence.c.source_key == source.key)
        ).scalar_one()
    )
    connection.execute(delete(evidence).where(evidence.c.source_key == source.key))
    connection.execute(delete(reported_facts).where(reported_facts.c.source_key == source.key))
    connection.execute(delete(evidence_sources).where(evidence_sources.c.key == source.key))
    register_source(connection, source)
    ids = ModelIds(connection.execute(select(models.c.id)).scalars())
    seen: dict[tuple[Any, ...], float] = {}
    facts: dict[tuple[str, str], Any] = {}
    batch: list[dict[str, Any]] = []
    last_tick = 0
    for item in parsed.items:
        if isinstance(item, FactRecord):
            facts[(ids.resolve(item.model_id) or item.model_id, item.fact)] = item.value
        elif isinstance(item, Skipped):
            report.rows_read += 1
            report.skipped[item.reason] += 1
        else:
            report.rows_read += 1
            item = _as_catalog_model(item, ids)
            identity = item.identity()
            if identity in seen:
                same = abs(seen[identity] - item.value) <= 1e-9
                report.skipped["duplicate" if same else "conflicting-duplicate"] += 1
                continue
            seen[identity] = item.value
            batch.append(_row(item, parsed))
            if len(batch) >= _BATCH:
                connection.execute(evidence.insert(), batch)
                report.rows_imported += len(batch)
                batch = []
        if progress is not None and parsed.ticks[0] != last_tick:
            last_tick = parsed.ticks[0]
            progress(last_tick)
    if batch:
        connection.execute(evidence.insert(), batch)
        report.rows_imported += len(batch)
    if facts:
        connection.execute(
            reported_facts.insert(),
            [{"source_key": source.key, "model_id": m, "fact": f, "value": v} for (m, f), v in facts.items()],
        )
    report.facts = len(facts)
    connection.execute(
        update(evidence_sources)
        .where(evidence_sources.c.key == source.key)
        .values(
            rows_read=report.rows_read,
            rows_imported=report.rows_imported,
            skipped=dict(sorted(report.skipped.items())),
        )
    )
    return report


def import_parsed(db: Database, parsed: Parsed, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Write a parsed source in one write transaction (rolled back on any error)."""
    with db.write() as connection:
        return write_source(connection, parsed, progress)
