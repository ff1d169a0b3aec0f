"""A task's benchmarks as seeded into tasks.benchmarks, and which evidence rows each one accepts.

The seeded record is plain JSON (the recommend path reads it without pydantic):

    {"id", "name", "datasets": [...], "config", "splits": [...], "metric", "label", "higher_is_better",
     "protocol": {"n_shot", "variant"} | null, "weight", "description",
     "aggregate": [{"dataset", "config", "split", "metric"}, ...]}

Rows are compared only within one benchmark, i.e. one dataset family + metric + protocol; an aggregate counts a
model only when every component is covered (`aggregate_coverage`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from catalog.evidence.registry import metric as metric_spec

if TYPE_CHECKING:
    from catalog.taxonomy import BenchmarkSpec


UNSTATED = "unstated"  # a benchmark split meaning: the row names no split


class _RowLike(Protocol):
    @property
    def dataset(self) -> str: ...
    @property
    def dataset_config(self) -> str | None: ...
    @property
    def split(self) -> str | None: ...
    @property
    def metric(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def n_shot(self) -> int | None: ...
    @property
    def protocol(self) -> str | None: ...


def benchmark_record(spec: BenchmarkSpec) -> dict[str, Any]:
    """The JSON stored in tasks.benchmarks for one catalog.yaml benchmark (adds direction and label)."""
    record = spec.model_dump(mode="json")
    metric = metric_spec(spec.metric)
    record["higher_is_better"] = metric.higher_is_better
    record["label"] = metric.label
    return record


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").lower() == (b or "").lower()


def dataset_matches(entry: str, row: _RowLike, config: str | None = None) -> bool:
    """A benchmark's dataset entry against a row: `name` or `name:config` (e.g. `glue:sst2`), case-insensitive.
    A plain entry also requires the benchmark's `config` when it sets one."""
    name, _, entry_config = entry.partition(":")
    if name.lower() != row.dataset.lower():
        return False
    wanted = entry_config or config
    return not wanted or _same(row.dataset_config, wanted)


def protocol_matches(benchmark: Mapping[str, Any], row: _RowLike) -> bool:
    protocol = benchmark.get("protocol") or {}
    n_shot = protocol.get("n_shot")
    if n_shot is not None and row.n_shot is not None and row.n_shot != n_shot:
        return False
    # A row that names a variant (chain-of-thought, a filter, spacy-meta ...) matches only that variant; a row that
    # names none is taken at the benchmark's own protocol.
    return not (row.protocol and not _same(row.protocol, protocol.get("variant")))


def matches(benchmark: Mapping[str, Any], row: _RowLike) -> bool:
    """Whether an evidence row is a result on this (non-aggregate) benchmark: dataset, config, split, metric and
    protocol all agree. A row that does not state its shots or variant is taken as the benchmark's own protocol
    (leaderboards name the protocol once, not per row)."""
    if row.metric != benchmark["metric"]:
        return False
    if not any(dataset_matches(entry, row, benchmark.get("config")) for entry in benchmark.get("datasets") or ()):
        return False
    splits = {s.lower() for s in benchmark.get("splits") or ()}
    if splits and (row.split or UNSTATED).lower() not in splits:
        return False  # "unstated" in splits accepts rows that name no split (SST-2: only dev has labels)
    return protocol_matches(benchmark, row)


def component_matches(component: Mapping[str, Any], row: _RowLike) -> bool:
    if row.metric != component["metric"] or not _same(row.dataset, component["dataset"]):
        return False
    if component.get("config") and not _same(row.dataset_config, component["config"]):
        return False
    return not (component.get("split") and not _same(row.split, component["split"]))


@dataclass(frozen=True)
class Coverage:
    """A model's rows on an aggregate: the component values found and the components missing."""

    values: tuple[float | None, ...]  # one per component, None where missing
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def mean(self) -> float | None:
        """The aggregate's value, only when every component is covered (partial coverage is never averaged)."""
        if not self.complete or not self.values:
            return None
        return sum(v for v in self.values if v is not None) / len(self.values)


def aggregate_coverage(benchmark: Mapping[str, Any], rows: Iterable[_RowLike]) -> Coverage:
    """Match one model's rows against an aggregate's components (first matching row per component)."""
    components = list(benchmark.get("aggregate") or ())
    values: list[float | None] = [None] * len(components)
    for row in rows:
        for index, component in enumerate(components):
            if values[index] is None and component_matches(component, row):
                values[index] = float(row.value)
    missing = tuple(
        f"{c['dataset']}" + (f"/{c['config']}" if c.get("config") else "")
        for c, v in zip(components, values, strict=True)
        if v is None
    )
    return Coverage(values=tuple(values), missing=missing)


def benchmark_datasets(benchmarks: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every dataset (lower case) a list of benchmarks reads, aggregate components included."""
    names: set[str] = set()
    for bench in benchmarks:
        names.update(d.partition(":")[0].lower() for d in bench.get("datasets") or ())
        names.update(c["dataset"].lower() for c in bench.get("aggregate") or ())
    return names


def benchmark_spellings(benchmarks: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every dataset name the benchmarks list, as written and lower-cased (an indexable IN list for SQL; the
    case-insensitive match itself is `matches`)."""
    names: set[str] = set()
    for bench in benchmarks:
        for name in [d.partition(":")[0] for d in bench.get("datasets") or ()] + [
            c["dataset"] for c in bench.get("aggregate") or ()
        ]:
            names.update((name, name.lower()))
    return names
