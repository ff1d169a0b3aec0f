"""Name resolution and model records in plain SQL (catalog.db.reader): what `catalog recommend` reads besides its
ranking queries, without SQLAlchemy. Each function takes a Reader, or a SQLAlchemy Connection or Session (wrapped),
so the listing commands and the writers call the same code inside their own transactions; catalog.queries
re-exports them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from catalog.db.reader import as_json, as_reader, column, scalar
from catalog.errors import UnknownArchitectureError, UnknownFamilyError, UnknownTaskError
from catalog.records import ModelRecord, ReportedMetricRecord, TaskRecord
from catalog.settings import redact_url


def resolve_task(conn: Any, name: str) -> str:
    """Task id for a task id or alias, case-insensitively; unknown names get did-you-mean suggestions."""
    reader = as_reader(conn)
    key = name.strip().lower()
    if scalar(reader, "SELECT id FROM tasks WHERE id = :key", {"key": key}) is not None:
        return key
    task_id = scalar(reader, "SELECT task_id FROM task_aliases WHERE alias = :key", {"key": key})
    if task_id is not None:
        return str(task_id)
    names = column(reader, "SELECT id FROM tasks") + column(reader, "SELECT alias FROM task_aliases")
    raise UnknownTaskError(name, names)


def resolve_family(conn: Any, name: str) -> str:
    key = name.strip().lower()
    rows = as_reader(conn).all("SELECT id, name FROM families")
    if key in {family_id for family_id, _ in rows}:
        return key
    by_name = {display.lower(): family_id for family_id, display in rows}
    if key in by_name:
        return str(by_name[key])
    squeezed = {k.replace(" ", "").replace("-", ""): v for k, v in by_name.items()}
    if key.replace(" ", "").replace("-", "") in squeezed:
        return str(squeezed[key.replace(" ", "").replace("-", "")])
    raise UnknownFamilyError(name, [r[0] for r in rows] + [r[1] for r in rows])


def resolve_architecture(conn: Any, name: str) -> str:
    key = name.strip().lower()
    known = column(as_reader(conn), "SELECT id FROM architectures")
    if key in known:
        return key
    raise UnknownArchitectureError(name, known)


def _grouped(rows: Iterable[Sequence[Any]]) -> dict[Any, list[Any]]:
    """(key, value) rows -> key: [values] in row order."""
    out: dict[Any, list[Any]] = {}
    for key, value in rows:
        out.setdefault(key, []).append(value)
    return out


def task_records(conn: Any, task_ids: Sequence[str] | None = None) -> list[TaskRecord]:
    """Tasks in taxonomy order (all, or those ids) with aliases, suitable architectures and model counts."""
    reader = as_reader(conn)
    where = "" if task_ids is None else " WHERE {} IN :ids"
    params = None if task_ids is None else {"ids": list(task_ids)}
    aliases = _grouped(reader.all("SELECT task_id, alias FROM task_aliases" + where.format("task_id")
                                  + " ORDER BY position", params))  # fmt: skip
    archs = _grouped(reader.all("SELECT ta.task_id, a.id FROM task_architectures AS ta JOIN architectures AS a "
                                "ON a.id = ta.architecture_id" + where.format("ta.task_id") + " ORDER BY a.position",
                                params))  # fmt: skip
    counts = dict(reader.all("SELECT task_id, count(*) FROM model_tasks" + where.format("task_id")
                             + " GROUP BY task_id", params))  # fmt: skip
    rows = reader.all("SELECT id, name_en, name_zh, modality, description, metrics FROM tasks" + where.format("id")
                      + " ORDER BY position", params)  # fmt: skip
    return [
        TaskRecord(
            id=task_id,
            aliases=aliases.get(task_id, []),
            name_en=name_en,
            name_zh=name_zh,
            modality=modality,
            description=description,
            metrics=list(as_json(metrics) or []),
            architectures=archs.get(task_id, []),
            models=int(counts.get(task_id, 0)),
        )
        for task_id, name_en, name_zh, modality, description, metrics in rows
    ]


_MODEL_COLUMNS = ("id, pipeline_tag, family_id, architecture_id, params, license, downloads, library, gated, api_only, "
                  "curated, base_model, provenance, source")  # fmt: skip


def model_records(conn: Any, ids: Sequence[str]) -> dict[str, ModelRecord]:
    """Full records (languages, tasks, reported metrics) for these model ids: four queries, whatever the count."""
    if not ids:
        return {}
    reader = as_reader(conn)
    wanted = {"ids": list(dict.fromkeys(ids))}
    rows = reader.all(f"SELECT {_MODEL_COLUMNS} FROM models WHERE id IN :ids", wanted)
    languages = _grouped(reader.all("SELECT model_id, language FROM model_languages WHERE model_id IN :ids "
                                    "ORDER BY model_id, position", wanted))  # fmt: skip
    task_ids = _grouped(reader.all("SELECT model_id, task_id FROM model_tasks WHERE model_id IN :ids "
                                   "ORDER BY model_id, position", wanted))  # fmt: skip
    reported: dict[str, list[ReportedMetricRecord]] = {}
    for model_id, task, metric, value, scale, dataset, split, source, verified in reader.all(
        "SELECT model_id, task_id, metric, value, scale, dataset, split, source, verified FROM reported_metrics "
        "WHERE model_id IN :ids ORDER BY id",
        wanted,
    ):
        reported.setdefault(model_id, []).append(
            ReportedMetricRecord(
                task=task,
                metric=metric,
                value=float(value),
                scale=scale,
                dataset=dataset,
                split=split,
                source=source,
                verified=bool(verified),
            )
        )
    out: dict[str, ModelRecord] = {}
    for (model_id, tag, family, architecture, params, license_, downloads, library, gated, api_only, curated, base,
         provenance, source) in rows:  # fmt: skip
        out[model_id] = ModelRecord(
            id=model_id,
            pipeline_tag=tag,
            family=family,
            architecture=architecture,
            params=params,
            license=license_,
            languages=languages.get(model_id, []),
            downloads=downloads,
            tasks=task_ids.get(model_id, []),
            library=library,
            gated=bool(gated),
            api_only=bool(api_only),
            curated=bool(curated),
            base_model=base,
            reported=reported.get(model_id, []),
            provenance={str(k): str(v) for k, v in (as_json(provenance) or {}).items()},
            source=redact_url(source),  # a row stored by an older version may hold HF_ENDPOINT credentials
        )
    return out
