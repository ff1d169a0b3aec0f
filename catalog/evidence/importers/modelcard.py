"""Hugging Face model cards: README.md with a `model-index` block in its YAML front matter, read with
huggingface_hub's model-card support (repocard.metadata_load). One card, or a folder of <org>/<name>/README.md.

Each metric of each result becomes a row: the task from `task.type` (taxonomy ids, aliases and the registry's
spellings), the dataset from `dataset.type` (its Hub id) with `config` (or the older `args`) and `split`, the metric
from `type` through the registry, scoped by the task. Authors write percent and fractions alike and rarely say which:
each value is read both ways and kept only when one reading is plausible, else skipped as ambiguous. The card's
`verified` flag (Hugging Face's own evaluation) is kept; everything else is self-reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from catalog.errors import EvidenceError
from catalog.evidence.importers import ImportContext, source_info
from catalog.evidence.records import EvidenceRecord, Item, Parsed, Skipped, result
from catalog.evidence.registry import canonical_task

FORMAT = "model-card"


def _tree(path: Path) -> Path:
    """The folder of ORG/NAME/README.md cards: `path`, or its `models/` folder (a clone of a cards repository)."""
    if path.is_dir() and next(iter(path.glob("*/*/README.md")), None) is None and (path / "models").is_dir():
        return path / "models"
    return path


def detect(path: Path) -> bool:
    if path.is_file():
        return path.name.lower() == "readme.md"
    return path.is_dir() and next(iter(_tree(path).glob("*/*/README.md")), None) is not None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _split_named(metric_name: Any) -> str | None:
    """The split a metric's display name states when the dataset does not ("Test WER" -> test): the author's
    words, not a guess; names that say nothing (eval_f1, F1) give None."""
    words = str(metric_name or "").lower().replace("_", " ").replace("-", " ").split()
    if "test" in words:
        return "test"
    if "validation" in words or "dev" in words:
        return "validation"
    return None


def model_index_items(model_id: str, model_index: Any, task_names: dict[str, str], **fields: Any) -> Iterator[Item]:
    """Rows from a parsed `model-index` (a card's, or a Hub API item's cardData), or why each value was skipped.

    Where one card gives several values for the same dataset, split and metric (WER with and without a language
    model, say), each keeps the author's metric name as its protocol: they are different protocols, and no
    benchmark without that variant compares them."""
    items = list(_model_index_items(model_id, model_index, task_names, **fields))
    values: dict[tuple[Any, ...], set[float]] = {}
    for item in items:
        if isinstance(item, EvidenceRecord):
            values.setdefault(item.identity(), set()).add(item.value)
    for item in items:
        if isinstance(item, EvidenceRecord) and len(values[item.identity()]) > 1:
            variant = str(item.details.get("metric_name") or item.metric_raw)[:128]
            yield replace(item, protocol=variant)
        else:
            yield item


def _model_index_items(model_id: str, model_index: Any, task_names: dict[str, str], **fields: Any) -> Iterator[Item]:
    if not isinstance(model_index, list):
        yield Skipped("malformed-model-index", model_id)
        return
    for entry in model_index:
        results = entry.get("results") if isinstance(entry, dict) else None
        for res in results if isinstance(results, list) else []:
            if not isinstance(res, dict):
                yield Skipped("malformed-model-index", model_id)
                continue
            task: dict[str, Any] = res["task"] if isinstance(res.get("task"), dict) else {}
            dataset: dict[str, Any] = res["dataset"] if isinstance(res.get("dataset"), dict) else {}
            metrics: list[Any] = res["metrics"] if isinstance(res.get("metrics"), list) else []
            task_id = canonical_task(_text(task.get("type")) or _text(task.get("name")), task_names)
            dataset_id = _text(dataset.get("type")) or _text(dataset.get("name"))
            for metric in metrics:
                if not isinstance(metric, dict):
                    yield Skipped("malformed-model-index", model_id)
                    continue
                raw = _text(metric.get("type")) or _text(metric.get("name"))
                if task_id is None:
                    yield Skipped("unknown-task", f"{model_id}: {task.get('type')!r}")
                    continue
                if not dataset_id:
                    yield Skipped("no-dataset", model_id)
                    continue
                if not raw:
                    yield Skipped("no-metric-name", model_id)
                    continue
                config = _text(dataset.get("config")) or _text(dataset.get("args"))
                verified = metric.get("verified") is True
                yield result(
                    model_id=model_id,
                    task_id=task_id,
                    dataset=dataset_id[:255],
                    metric_raw=raw,
                    value=metric.get("value"),
                    scale=None,
                    dataset_config=config[:128] if config else None,
                    split=(_text(dataset.get("split")) or _split_named(metric.get("name")) or "")[:64] or None,
                    self_reported=not verified,
                    verified=verified,
                    details={
                        k: v
                        for k, v in (
                            ("metric_name", _text(metric.get("name"))),
                            ("dataset_name", _text(dataset.get("name"))),
                        )
                        if v
                    },
                    **fields,
                )


def _cards(path: Path) -> list[tuple[str, Path]]:
    if path.is_file():
        return [(f"{path.parent.parent.name}/{path.parent.name}", path)]
    tree = _tree(path)
    return [(f"{card.parent.parent.name}/{card.parent.name}", card) for card in sorted(tree.glob("*/*/README.md"))]


def _items(path: Path, context: ImportContext, parsed: Parsed) -> Iterator[Item]:
    from huggingface_hub.repocard import metadata_load

    single = path.is_file()
    for model_id, card in _cards(path):
        parsed.ticks[0] += 1
        try:
            metadata = metadata_load(card)
        except Exception as exc:  # the YAML parser's errors vary; one bad card is a skip, a single bad file an error
            if single:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise EvidenceError(f"{card}: the card's YAML front matter cannot be read ({first}).") from exc
            yield Skipped("unreadable-card", str(card))
            continue
        model_index = (metadata or {}).get("model-index")
        if model_index is None:
            if single:
                raise EvidenceError(f"{card}: the card has no model-index block; nothing to import.")
            yield Skipped("no-model-index", model_id)
            continue
        yield from model_index_items(
            model_id, model_index, context.task_names, source_url=f"https://huggingface.co/{model_id}"
        )


def parse(location: str, context: ImportContext) -> Parsed:
    path = Path(location).resolve()
    cards = _cards(path)
    if not cards:
        raise EvidenceError(f"{path}: no README.md model cards (expected ORG/NAME/README.md below it).")
    source = source_info(FORMAT, str(path), context, kind="model-card",
                         name="model-card" if path.is_file() else path.name)  # fmt: skip
    return Parsed.ticking(source, len(cards), "cards", lambda parsed: _items(path, context, parsed))
