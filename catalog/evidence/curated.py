"""catalog.yaml's curated `reported:` figures as evidence (source key "catalog.yaml"), so ranking reads one table.

Seeded with the taxonomy, in its transaction. Each figure goes through the metric registry like any import: "MMLU
(5-shot)" becomes dataset MMLU with n_shot 5, the declared scale is applied, and the kind of source is read from the
figure's source text (a model card, a leaderboard, else a paper or vendor publication).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from catalog.evidence.records import Item, Parsed, SourceInfo, result
from catalog.evidence.store import write_source

if TYPE_CHECKING:
    from catalog.taxonomy import ReportedMetricSpec, Taxonomy

SOURCE_KEY = "catalog.yaml"
_SHOTS = re.compile(r"\s*\(([^)]*?)\b(zero|\d+)-shot\b([^)]*)\)")


def source_kind(text: str) -> str:
    lowered = text.lower()
    if "leaderboard" in lowered:
        return "leaderboard"
    if "card" in lowered:
        return "model-card"
    return "paper"


def split_protocol(dataset: str) -> tuple[str, int | None, str | None]:
    """'MMLU (5-shot, top-1)' -> ('MMLU', 5, 'top-1'); 'MMLU (CoT@8)' -> ('MMLU', None, 'CoT@8'); 'GLUE SST-2 (after
    fine-tuning)' -> ('GLUE SST-2', None, 'fine-tuned'); other names are kept whole ('SST-2 (GLUE)')."""
    cot = re.search(r"\s*\(([^)]*\bCoT\b[^)]*)\)", dataset, re.IGNORECASE)
    if cot:
        return (dataset[: cot.start()] + dataset[cot.end() :]).strip(), None, cot.group(1).strip()
    tuned = re.search(r"\s*\(after fine-?tuning\)", dataset, re.IGNORECASE)
    if tuned:
        return (dataset[: tuned.start()] + dataset[tuned.end() :]).strip(), None, "fine-tuned"
    match = _SHOTS.search(dataset)
    if not match:
        return dataset, None, None
    shots = 0 if match.group(2) == "zero" else int(match.group(2))
    rest = ", ".join(p.strip(" ,") for p in (match.group(1), match.group(3)) if p.strip(" ,")) or None
    return (dataset[: match.start()] + dataset[match.end() :]).strip(), shots, rest


def _record(model_id: str, task_id: str, spec: ReportedMetricSpec) -> Item:
    dataset, n_shot, variant = split_protocol(spec.dataset)
    return result(
        model_id=model_id,
        task_id=task_id,
        dataset=dataset,
        metric_raw=spec.metric,
        value=spec.value,
        scale=None if spec.scale == "raw" else spec.scale,
        split=spec.split,
        n_shot=n_shot,
        protocol=variant if variant and variant != "top-1" else None,
        self_reported=True,
        verified=spec.verified,
        source_kind=source_kind(spec.source),
        source_name="catalog.yaml",
        details={"source": spec.source, "dataset_as_written": spec.dataset},
    )


def curated_items(taxonomy: Taxonomy) -> Iterator[Item]:
    for model in taxonomy.models:
        for spec in model.reported:
            yield _record(model.id, spec.task or model.tasks[0], spec)


def seed_curated_evidence(connection: Connection, taxonomy: Taxonomy) -> None:
    """Replace the catalog.yaml source's rows with the taxonomy's reported figures (in the caller's transaction)."""
    source = SourceInfo(
        key=SOURCE_KEY, kind="curated", name="catalog.yaml", format="catalog-yaml", location="catalog.yaml (curated)"
    )  # kind "curated": the figures come from cards, leaderboards and papers, and each row keeps its own kind
    write_source(connection, Parsed(source=source, items=curated_items(taxonomy)))
