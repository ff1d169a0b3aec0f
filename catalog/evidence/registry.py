"""The metric registry (data/metrics.yaml): canonical metric names, their spellings, direction and scale.

Every evidence value is stored on its metric's canonical scale, so rows compare only when their canonical names are
equal. Percent versus fraction comes from the source's declared format, else from the value range; a value that
reads plausibly both ways is refused (AmbiguousScaleError), never guessed. Light on purpose: the recommend path
imports it, so it needs only yaml (C loader when available) and is parsed once per process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from catalog.errors import AmbiguousScaleError, OutOfRangeError

DeclaredScale = Literal["percent", "fraction"]
_PREFIXES = ("eval-", "test-", "validation-", "dev-", "overall-", "mean-", "avg-")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    label: str
    higher_is_better: bool
    scale: Literal["fraction", "raw"]
    valid: tuple[float | None, float | None]
    plausible: tuple[float | None, float | None]
    tasks: tuple[str, ...]

    def measures(self, task_id: str | None) -> bool:
        return task_id is None or task_id in self.tasks


@dataclass(frozen=True)
class Registry:
    metrics: dict[str, MetricSpec]
    aliases: dict[str, str]  # normalised spelling -> canonical name, for every task
    task_aliases: dict[tuple[str, str], str]  # (task id, normalised spelling) -> canonical name
    task_names: dict[str, str]  # source task spellings -> taxonomy task id
    benchmark_datasets: dict[str, tuple[str, str | None]]  # Hub benchmark dataset (lower case) -> (metric, task)


def normalise_name(raw: str) -> str:
    """Lower case; spaces, underscores and slashes become hyphens; runs of hyphens collapse."""
    text = raw.strip().lower().replace("_", "-").replace(" ", "-").replace("/", "-")
    return re.sub(r"-{2,}", "-", text).strip("-")


def _bound(value: Any) -> float | None:
    return None if value is None else float(value)


@lru_cache(maxsize=1)
def registry() -> Registry:
    from catalog import settings

    data = settings.load_data_yaml("metrics.yaml")
    metrics: dict[str, MetricSpec] = {}
    aliases: dict[str, str] = {}
    task_aliases: dict[tuple[str, str], str] = {}
    for name, entry in data["metrics"].items():
        valid = entry.get("valid") or [None, None]
        plausible = entry.get("plausible") or valid
        metrics[name] = MetricSpec(
            name=name,
            label=str(entry.get("label") or name),
            higher_is_better=bool(entry["higher_is_better"]),
            scale=entry.get("scale", "fraction"),
            valid=(_bound(valid[0]), _bound(valid[1])),
            plausible=(_bound(plausible[0]), _bound(plausible[1])),
            tasks=tuple(entry.get("tasks") or ()),
        )
        aliases[normalise_name(name)] = name
        for alias in entry.get("aliases") or ():
            aliases[normalise_name(str(alias))] = name
        for task_id, spellings in (entry.get("task_aliases") or {}).items():
            for alias in spellings or ():
                task_aliases[(task_id, normalise_name(str(alias)))] = name
    task_names = {normalise_name(k): v for k, v in (data.get("task_names") or {}).items()}
    benchmark_datasets = {
        str(name).lower(): (str(entry["metric"]), entry.get("task"))
        for name, entry in (data.get("benchmark_datasets") or {}).items()
    }
    for name, (metric_name, _) in benchmark_datasets.items():
        if metric_name not in metrics:
            raise ValueError(f"metrics.yaml: benchmark_datasets {name} names unknown metric {metric_name!r}")
    return Registry(
        metrics=metrics,
        aliases=aliases,
        task_aliases=task_aliases,
        task_names=task_names,
        benchmark_datasets=benchmark_datasets,
    )


def metric(name: str) -> MetricSpec:
    """The spec of a canonical metric name (KeyError for anything else)."""
    return registry().metrics[name]


def canonical_metric(raw_name: str, task_id: str | None) -> MetricSpec | None:
    """The metric a source's spelling means for a task: scoped aliases first, then global ones; None if unknown."""
    reg = registry()
    key = normalise_name(raw_name)
    candidates = [key]
    stripped = key
    for _ in range(2):
        for prefix in _PREFIXES:
            if stripped.startswith(prefix) and len(stripped) > len(prefix):
                stripped = stripped[len(prefix) :]
                candidates.append(stripped)
                break
    for candidate in candidates:
        if task_id is not None and (task_id, candidate) in reg.task_aliases:
            return reg.metrics[reg.task_aliases[(task_id, candidate)]]
        if candidate in reg.aliases:
            return reg.metrics[reg.aliases[candidate]]
    return None


def canonical_task(raw: str | None, known: dict[str, str] | None = None) -> str | None:
    """A source's task name as a taxonomy task id: `known` (ids and aliases -> id) first, then the registry's
    extra spellings; None when unknown."""
    if not raw:
        return None
    key = normalise_name(raw)
    if known and key in known:
        return known[key]
    return registry().task_names.get(key)


def _within(value: float, bounds: tuple[float | None, float | None]) -> bool:
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


def normalise_value(spec: MetricSpec, value: float, declared_scale: DeclaredScale | None = None) -> float:
    """`value` on the canonical scale of `spec`.

    declared_scale is what the source says its numbers are ("percent": 91.3, "fraction": 0.913). Without it a
    fraction metric's value is read both ways and kept only if exactly one reading is plausible; otherwise
    AmbiguousScaleError. A value outside the valid range raises OutOfRangeError.
    """
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise OutOfRangeError(f"{spec.name}: {value} is not a number")
    if spec.scale == "raw":
        if declared_scale == "percent":
            raise OutOfRangeError(f"{spec.name} has no percent form (got {value} declared as percent)")
        result = value
    elif declared_scale == "percent":
        result = value / 100.0
    elif declared_scale == "fraction":
        result = value
    else:
        as_fraction, as_percent = value, value / 100.0
        fraction_ok = _within(as_fraction, spec.valid) and _within(as_fraction, spec.plausible)
        percent_ok = _within(as_percent, spec.valid) and _within(as_percent, spec.plausible)
        if fraction_ok and percent_ok:
            raise AmbiguousScaleError(
                f"{spec.name} {value} reads as {as_fraction:g} or {as_percent:g}: declare percent or fraction"
            )
        if not fraction_ok and not percent_ok:
            raise OutOfRangeError(f"{spec.name} {value} is implausible as a fraction and as a percent")
        result = as_fraction if fraction_ok else as_percent
    result = round(result, 12)  # 91.3 / 100 is 0.9129999999999999; keep the digits the source gave
    if not _within(result, spec.valid):
        low, high = spec.valid
        raise OutOfRangeError(f"{spec.name} {result:g} is outside its valid range [{low}, {high}]")
    return result
