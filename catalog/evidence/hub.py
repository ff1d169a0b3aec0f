"""Evidence from `catalog sync`: the model-index results a Hub item carries in its card data, and the Hub's newer
eval results (`evalResults`: the model repo's `.eval_results/*.yaml` entries), stored as evidence (source key
"hub-sync"; kind model-card for model-index rows, hub for eval results) for each model a sync page inserts or
changes.

Called by catalog.hub.sync inside the page's transaction; a model's earlier hub-sync rows are replaced by the new
ones, other models' rows are left alone. The values go through the same readers as imported cards and imported
`.eval_results` files (scale detected or refused, the verified flag kept).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from catalog.db.schema import evidence, evidence_sources, utcnow
from catalog.evidence.importers.modelcard import model_index_items
from catalog.evidence.records import EvidenceRecord, Parsed, SourceInfo
from catalog.evidence.store import _row, register_source

SOURCE = SourceInfo(key="hub-sync", kind="model-card", name="hub-sync", format="hub-model-index", location="Hub API")


def _model_index(reported: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The derived `reported` dicts of a synced item, back in model-index shape."""
    results = [
        {
            "task": {"type": metric.get("task_id")},
            "dataset": {"type": metric.get("dataset"), "split": metric.get("split")},
            "metrics": [
                {"type": metric.get("metric"), "value": metric.get("value"), "verified": metric.get("verified")}
            ],
        }
        for metric in reported
    ]
    return [{"results": results}]


def store_hub_evidence(
    connection: Connection,
    items: Sequence[tuple[str, Sequence[dict[str, Any]]]],
    eval_results: Mapping[str, Sequence[Any]] | None = None,
) -> int:
    """Replace the hub-sync rows of these (model id, derived reported metrics) items, adding each model's Hub eval
    results (model id -> its `evalResults` entries); the rows written."""
    if not items:
        return 0
    from catalog.evidence.api import task_benchmarks_all, task_names
    from catalog.evidence.importers.evalresults import entry_items

    names = task_names(connection)
    eval_results = eval_results or {}
    benchmarks = task_benchmarks_all(connection) if eval_results else ()
    if connection.execute(select(evidence_sources.c.key).where(evidence_sources.c.key == SOURCE.key)).first() is None:
        register_source(connection, SOURCE)
    model_ids = [model_id for model_id, _ in items]
    connection.execute(delete(evidence).where(evidence.c.source_key == SOURCE.key, evidence.c.model_id.in_(model_ids)))
    parsed = Parsed(source=SOURCE, items=iter(()))
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for model_id, reported in items:
        read: list[Any] = []
        if reported:
            read.extend(
                model_index_items(
                    model_id, _model_index(reported), names, source_url=f"https://huggingface.co/{model_id}"
                )
            )
        if eval_results.get(model_id):
            url = f"https://huggingface.co/{model_id}/tree/main/.eval_results"
            entries = entry_items(model_id, list(eval_results[model_id]), benchmarks, file_url=url)
            read.extend(replace(r, source_kind="hub") if isinstance(r, EvidenceRecord) else r for r in entries)
        for item in read:
            if isinstance(item, EvidenceRecord) and item.identity() not in seen:  # as an import drops duplicates
                seen.add(item.identity())
                unique.append(_row(item, parsed))
    if unique:
        connection.execute(evidence.insert(), unique)
    total = connection.execute(
        select(func.count()).select_from(evidence).where(evidence.c.source_key == SOURCE.key)
    ).scalar_one()
    connection.execute(
        update(evidence_sources)
        .where(evidence_sources.c.key == SOURCE.key)
        .values(rows_read=total, rows_imported=total, imported_at=utcnow())
    )
    return len(unique)
