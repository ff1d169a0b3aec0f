"""First recommender: task filter, default exclusions, a documented weighted score and a `why` per row.

Score = sum over components of weight x value, each value in [0, 1]:
  popularity  log10(1 + 30-day downloads), divided by the best in the candidate set   (weight 0.50)
  curated     1 when the model is in the reviewed taxonomy (catalog.yaml)             (weight 0.20)
  reported    1 when the card reports a metric for this task                          (weight 0.15)
  specialised 1 when the task is the model's own Hub pipeline tag                     (weight 0.15)
Ties break by downloads, then id, so the order is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from catalog.db.engine import Database, open_database
from catalog.db.models import Model, ModelTask
from catalog.errors import UsageError
from catalog.queries import model_record, resolve_task
from catalog.records import ModelRecord

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "popularity": 0.50,
    "curated": 0.20,
    "reported": 0.15,
    "specialised": 0.15,
}


@dataclass(frozen=True)
class Component:
    name: str
    weight: float
    value: float
    raw: str
    provenance: str

    @property
    def contribution(self) -> float:
        return self.weight * self.value


@dataclass(frozen=True)
class Recommendation:
    rank: int
    model: ModelRecord
    task: str
    score: float
    why: str
    components: list[Component] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        m = self.model
        return {
            "rank": self.rank,
            "id": m.id,
            "pipeline_tag": m.pipeline_tag,
            "family": m.family,
            "architecture": m.architecture,
            "params": m.params,
            "license": m.license,
            "languages": m.languages,
            "downloads": m.downloads,
            "score": round(self.score, 4),
            "why": self.why,
            "api_only": m.api_only,
            "gated": m.gated,
            "reported": [r.to_dict() for r in m.reported if r.task in (None, self.task)],
            "components": [asdict(c) | {"contribution": round(c.contribution, 4)} for c in self.components],
        }


@dataclass(frozen=True)
class Recommendations:
    task: str
    items: list[Recommendation]
    considered: int
    excluded: dict[str, int]

    def __iter__(self) -> Iterator[Recommendation]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def to_list(self) -> list[dict[str, Any]]:
        return [item.to_dict() for item in self.items]

    def to_dataframe(self) -> Any:
        import pandas as pd  # heavy: only when asked for

        return pd.DataFrame([{k: v for k, v in r.items() if k != "components"} for r in self.to_list()])


def _humanize(count: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= size:
            return f"{count / size:.1f}{unit}"
    return str(count)


def _score(model: Model, task_id: str, best_log_downloads: float, weights: Mapping[str, float]) -> list[Component]:
    downloads = model.downloads or 0
    popularity = math.log10(1 + downloads) / best_log_downloads if best_log_downloads > 0 else 0.0
    reported = [r for r in model.reported if r.task_id in (None, task_id)]
    provenance = (model.provenance or {}).get("downloads", "Hub downloads")
    components = [
        Component(
            "popularity",
            weights["popularity"],
            popularity,
            f"{_humanize(downloads)} downloads/30d" if model.downloads is not None else "downloads unknown",
            f"reported: {provenance}" if model.downloads is not None else "no figure",
        ),
        Component(
            "curated",
            weights["curated"],
            1.0 if model.curated else 0.0,
            "curated" if model.curated else "not curated",
            "catalog.yaml",
        ),
        Component(
            "reported",
            weights["reported"],
            1.0 if reported else 0.0,
            (
                f"card: {reported[0].metric} {reported[0].value:g}{'%' if reported[0].scale == 'percent' else ''} "
                f"({reported[0].dataset})"
            )
            if reported
            else "no reported metric",
            f"reported: {reported[0].source}" if reported else "none",
        ),
        Component(
            "specialised",
            weights["specialised"],
            1.0 if model.pipeline_tag == task_id else 0.0,
            f"made for {model.pipeline_tag}" if model.pipeline_tag else "no pipeline tag",
            "Hub pipeline tag",
        ),
    ]
    return components


def _why(components: list[Component]) -> str:
    strongest = sorted((c for c in components if c.contribution > 0), key=lambda c: -c.contribution)[:3]
    if not strongest:
        return "matches the task; no other signal"
    return "; ".join(c.raw for c in strongest)


def recommend(
    task: str,
    *,
    limit: int = 10,
    include_api: bool = False,
    include_gated: bool = False,
    weights: Mapping[str, float] | None = None,
    db: Database | None = None,
) -> Recommendations:
    """Ranked models for `task` (an id or alias), best first. API-only and gated models only when asked."""
    if limit < 0:
        raise UsageError(f"--limit must be 0 (all) or a positive number, not {limit}.")
    merged = dict(DEFAULT_WEIGHTS)
    if weights:
        unknown = set(weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise UsageError(f"Unknown score component(s) {sorted(unknown)}; known: {sorted(DEFAULT_WEIGHTS)}.")
        merged.update(weights)
    database = db or open_database()
    try:
        with database.session() as session:
            task_id = resolve_task(session, task)
            query = (
                select(Model)
                .where(Model.id.in_(select(ModelTask.model_id).where(ModelTask.task_id == task_id)))
                .options(selectinload(Model.languages), selectinload(Model.tasks), selectinload(Model.reported))
            )
            candidates = list(session.scalars(query))
            excluded = {"api-only (use --include-api)": 0, "gated (use --include-gated)": 0}
            kept: list[Model] = []
            for model in candidates:
                if model.api_only and not include_api:
                    excluded["api-only (use --include-api)"] += 1
                elif model.gated and not include_gated:
                    excluded["gated (use --include-gated)"] += 1
                else:
                    kept.append(model)
            best = max((math.log10(1 + (m.downloads or 0)) for m in kept), default=0.0)
            scored = []
            for model in kept:
                components = _score(model, task_id, best, merged)
                total = sum(c.contribution for c in components)
                scored.append((total, model, components))
            scored.sort(key=lambda item: (-round(item[0], 12), -(item[1].downloads or 0), item[1].id))
            if limit:
                scored = scored[:limit]
            items = [
                Recommendation(
                    rank=rank,
                    model=model_record(model),
                    task=task_id,
                    score=total,
                    why=_why(components),
                    components=components,
                )
                for rank, (total, model, components) in enumerate(scored, start=1)
            ]
            return Recommendations(
                task=task_id,
                items=items,
                considered=len(candidates),
                excluded={k: v for k, v in excluded.items() if v},
            )
    finally:
        if db is None:
            database.dispose()
