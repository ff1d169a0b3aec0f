"""A task's benchmarks as seeded into tasks.benchmarks, and the one rule deciding which evidence rows each accepts.

The seeded record is plain JSON (the recommend path reads it without pydantic):

    {"id", "name", "datasets": [...], "config", "splits": [...], "metric", "label", "higher_is_better",
     "protocol": {"n_shot", "variant"} | null, "weight", "description",
     "aggregate": [{"dataset", "config", "split", "metric"}, ...], "by_language": bool}

Rows are compared only within one benchmark, i.e. one dataset family + metric + protocol; an aggregate counts a
model only when every member is covered (`aggregate_coverage`). The checks return the reason a row does not count
(None when it does): the ranking (catalog.recommend.quality) shows these reasons in --explain, and
`catalog evidence list --benchmark` keeps the rows they accept, so both read evidence by this one rule.

A benchmark `by_language` (FLEURS, the Open ASR Leaderboard's per-language sets) reads the row's config as a
language: results compare only within one language (`language_of`), and only for the languages asked for
(`language_problem`); without a language asked for, the benchmark ranks nothing.

A row that states no split is taken on a benchmark with splits (model cards mostly omit it and report test), but is
marked "split not stated" (`split_note`); a benchmark whose `splits` include "unstated" declares what such a figure
is (SST-2: the test labels are hidden, so a figure without a split is a dev figure), and then no note is given. A
row that states another split is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from catalog.taxonomy import BenchmarkSpec


UNSTATED = "unstated"  # among a benchmark's splits: a row naming no split is that benchmark's split, no note
SPLIT_NOT_STATED = "split not stated"
MEASURED_KIND = "measured"  # a result measured here: the harness runs each registered set one way
_SHOT = re.compile(r"(\d+)\s*-?\s*shot", re.IGNORECASE)


class _RowLike(Protocol):
    """What the rule reads of a row (an EvidenceRow, a ranking EvidenceItem ...). `higher_is_better`,
    `source_kind` and `task_id` are read where the row has them."""

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
    from catalog.evidence.registry import metric as metric_spec

    record = spec.model_dump(mode="json")
    metric = metric_spec(spec.metric)
    record["higher_is_better"] = metric.higher_is_better
    record["label"] = metric.label
    return record


# ------------------------------------------------------------------------------------------------ protocol


def variant_of(protocol: str | None) -> str | None:
    """The prompt / chain-of-thought / scoring variant of a protocol string, without its n-shot part, normalised
    (lower case, separators as single spaces): "5-shot, CoT" -> "cot"."""
    if not protocol:
        return None
    rest = re.sub(r"[\s,;/]+", " ", _SHOT.sub(" ", protocol)).strip().lower()
    return rest or None


def shots_of(n_shot: int | None, protocol: str | None) -> int | None:
    """The row's shots: stated as n_shot, else read from its protocol ("5-shot")."""
    if n_shot is not None:
        return n_shot
    match = _SHOT.search(protocol or "")
    return int(match.group(1)) if match else None


# ------------------------------------------------------------------------------------------------ benchmarks


@dataclass(frozen=True)
class Member:
    """One dataset of an aggregate benchmark (an MTEB task ...)."""

    dataset: str
    config: str | None = None
    split: str | None = None
    metric: str | None = None

    @classmethod
    def parse(cls, value: Any) -> Member:
        if isinstance(value, str):
            return cls(value)
        return cls(str(value["dataset"]), value.get("config"), value.get("split"), value.get("metric"))

    def label(self) -> str:
        return self.dataset + (f"/{self.config}" if self.config else "")


@dataclass(frozen=True)
class Benchmark:
    """One benchmark that defines quality for a task (a catalog.yaml `benchmarks` entry, as seeded)."""

    id: str
    name: str
    datasets: tuple[str, ...] = ()
    config: str | None = None
    splits: tuple[str, ...] = ()
    metric: str | None = None
    n_shot: int | None = None
    variant: str | None = None  # normalised by variant_of
    weight: float = 1.0
    aggregate: tuple[Member, ...] = ()
    higher_is_better: bool | None = None
    metric_label: str | None = None
    by_language: bool = False  # the row's config is a language (see language_problem)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Benchmark:
        protocol = data.get("protocol")
        n_shot = data.get("n_shot")
        variant = None
        if isinstance(protocol, Mapping):
            n_shot = protocol.get("n_shot", n_shot)
            variant = variant_of(protocol.get("variant") or protocol.get("prompt"))
        elif isinstance(protocol, str):
            n_shot = shots_of(None, protocol) if n_shot is None else n_shot
            variant = variant_of(protocol)
        datasets = data.get("datasets") or ([data["dataset"]] if data.get("dataset") else [])
        splits = data.get("splits") or ([data["split"]] if data.get("split") else [])
        return cls(
            id=str(data["id"]),
            name=str(data.get("name") or data["id"]),
            datasets=tuple(str(d) for d in datasets),
            config=data.get("config"),
            splits=tuple(str(s) for s in splits),
            metric=data.get("metric"),
            n_shot=int(n_shot) if n_shot is not None else None,
            variant=variant,
            weight=float(data.get("weight", 1.0)),
            aggregate=tuple(Member.parse(m) for m in data.get("aggregate") or ()),
            higher_is_better=data.get("higher_is_better"),
            metric_label=data.get("label"),
            by_language=bool(data.get("by_language", False)),
        )

    def label_for(self, metric: str) -> str | None:
        """The metric's short display label, when this benchmark's record carries it (seeded from the registry)."""
        return self.metric_label if self.metric_label and metric == self.metric else None


def parse_benchmarks(raw: Iterable[Mapping[str, Any] | Benchmark] | None) -> list[Benchmark]:
    return [as_benchmark(item) for item in raw or ()]


def as_benchmark(bench: Mapping[str, Any] | Benchmark) -> Benchmark:
    return bench if isinstance(bench, Benchmark) else Benchmark.parse(bench)


# ------------------------------------------------------------------------------------------------ the rule


def _same_config(wanted: str | None, given: str | None) -> bool:
    """A config matches when equal (case-insensitive); a dataset's "default" config is also written as none."""
    if not wanted:
        return True
    return ((given or "").strip().lower() or "default") == wanted.lower()


def _measured(row: _RowLike) -> bool:
    return getattr(row, "source_kind", None) == MEASURED_KIND


def protocol_problem(bench: Benchmark, row: _RowLike) -> str | None:
    """A row that does not state its shots or variant is taken as the benchmark's own protocol (leaderboards name
    it once, not per row); a row that states another one is not comparable."""
    if _measured(row):
        return None
    shots, variant = shots_of(row.n_shot, row.protocol), variant_of(row.protocol)
    if bench.n_shot is not None and shots is not None and shots != bench.n_shot:
        return f"incomparable protocol: {shots}-shot, {bench.name} is {bench.n_shot}-shot"
    if variant is not None and variant != bench.variant:
        return f"incomparable protocol: {variant}, {bench.name} is {bench.variant or 'plain'}"
    return None


def split_problem(bench: Benchmark, row: _RowLike, splits: Sequence[str]) -> str | None:
    """A row that states a split outside `splits` is refused; one that states none is taken (see split_note)."""
    if splits and row.split is not None and row.split.lower() not in {s.lower() for s in splits}:
        shown = [s for s in splits if s.lower() != UNSTATED]
        return f"other split: {row.split}, {bench.name} uses {', '.join(shown) or 'rows that name none'}"
    return None


def _task_problem(bench: Benchmark, row: _RowLike, task_id: str | None) -> str | None:
    """A row measured for another task counts only on a benchmark of this task without a variant (MTEB results
    serve feature-extraction and sentence-similarity alike), or when it states that variant (SST-2 after
    fine-tuning, for fill-mask, needs rows that say so)."""
    row_task = getattr(row, "task_id", None)
    if task_id is None or row_task is None or row_task == task_id:
        return None
    if bench.variant and variant_of(row.protocol) != bench.variant:
        return f"off-task: measures {row_task}"
    return None


def _requirement_problem(
    bench: Benchmark,
    row: _RowLike,
    metric: str | None,
    config: str | None,
    splits: Sequence[str],
    task_id: str | None,
) -> str | None:
    if metric and row.metric.lower() != metric.lower():
        return f"other metric: {row.metric}, {bench.name} uses {metric}"
    higher = getattr(row, "higher_is_better", None)
    if bench.higher_is_better is not None and higher is not None and bench.higher_is_better != higher:
        return f"incomparable direction on {bench.name}"
    if config and not _measured(row) and not _same_config(config, row.dataset_config):
        return f"other config: {row.dataset_config or 'none stated'}, {bench.name} uses {config}"
    return split_problem(bench, row, splits) or protocol_problem(bench, row) or _task_problem(bench, row, task_id)


def named_config(bench: Benchmark, row: _RowLike) -> tuple[bool, str | None]:
    """Whether the row's dataset is one the benchmark lists (`name`, or `name:config` such as `glue:sst2`,
    case-insensitive), and the config it must then have: an entry's own, else the benchmark's `config`."""
    dataset = row.dataset.lower()
    plain = False
    for entry in bench.datasets:
        name, _, entry_config = entry.partition(":")
        if name.lower() != dataset:
            continue
        if not entry_config:
            plain = True
        elif _same_config(entry_config, row.dataset_config):
            return True, None  # `name:config` names the config itself
    return plain, bench.config if plain else None


def result_problem(
    bench: Benchmark, row: _RowLike, task_id: str | None = None, languages: Sequence[str] | None = None
) -> str | None:
    """Why `row` is not a result on `bench` (its listed datasets, not its aggregate), None when it is: dataset,
    config, metric, direction, split and protocol agree, and for a row of another task `_task_problem` allows it.
    `languages`: those asked for, checked on a by_language benchmark (None: any language, as `catalog evidence
    list` lists them)."""
    found, config = named_config(bench, row)
    if not found:
        return f"not on {bench.name}: {row.dataset}"
    reason = _requirement_problem(bench, row, bench.metric, config, bench.splits, task_id)
    if reason is None and languages is not None:
        return language_problem(bench, row, languages)
    return reason


def member_problem(bench: Benchmark, member: Member, row: _RowLike, task_id: str | None = None) -> str | None:
    """Why `row` is not a result on one member of the aggregate `bench`, None when it is."""
    if member.dataset.lower() != row.dataset.lower():
        return f"not on {bench.name}: {row.dataset}"
    if _measured(row):
        return f"measured here: compared on its own, not as part of {bench.name} (a published suite)"
    if not _same_config(member.config, row.dataset_config):  # STS17 en-de is not the member STS17 en-en
        return f"another subset: {row.dataset_config or 'none stated'}, {bench.name} uses {member.label()}"
    splits = (member.split,) if member.split else bench.splits
    return _requirement_problem(bench, row, member.metric or bench.metric, None, splits, task_id)


def problem(
    bench: Mapping[str, Any] | Benchmark,
    row: _RowLike,
    task_id: str | None = None,
    languages: Sequence[str] | None = None,
) -> str | None:
    """Why `row` counts on no part of the benchmark (a listed dataset or an aggregate member), None when it counts
    somewhere; the first reason found otherwise. `languages`: see result_problem."""
    bench = as_benchmark(bench)
    reasons = []
    if bench.datasets:
        reasons.append(result_problem(bench, row, task_id, languages))
    dataset = row.dataset.lower()
    for member in bench.aggregate:
        if member.dataset.lower() == dataset:
            reasons.append(member_problem(bench, member, row, task_id))
    if not reasons:
        return f"not on {bench.name}: {row.dataset}"
    if None in reasons:
        return None
    return next((r for r in reasons if r and not r.startswith("not on ")), reasons[0])


def matches(
    bench: Mapping[str, Any] | Benchmark,
    row: _RowLike,
    task_id: str | None = None,
    languages: Sequence[str] | None = None,
) -> bool:
    """Whether an evidence row counts on this benchmark (see `problem`)."""
    return problem(bench, row, task_id, languages) is None


def language_of(row: _RowLike) -> str | None:
    """The language a row's config names on a by_language benchmark: `fr` for fr, fr_fr or fr-FR; None when the
    row states no config."""
    config = (row.dataset_config or "").strip().lower()
    return re.split(r"[_-]", config, maxsplit=1)[0] or None


def language_problem(bench: Benchmark, row: _RowLike, languages: Sequence[str]) -> str | None:
    """Why a row on a by_language benchmark does not count for the languages asked for (--language), None when it
    does (or the benchmark is not by language). Without a language asked for, no row counts: results in different
    languages are not comparable, and one language's would stand in for the others'."""
    if not bench.by_language:
        return None
    language = language_of(row)
    if not languages:
        return f"per-language: {bench.name} {language or '(no language stated)'} counts with --language"
    if language not in {code.lower() for code in languages}:
        return f"another language: {language or 'none stated'} on {bench.name}, asked for {', '.join(languages)}"
    return None


def split_note(bench: Benchmark, row: _RowLike, member: Member | None = None) -> str | None:
    """ "split not stated" for a row taken on a benchmark with splits although it names none, unless the benchmark
    declares what such a figure is ("unstated" among its splits), or it was measured here (on a registered set)."""
    splits = (member.split,) if member is not None and member.split else bench.splits
    if row.split is not None or not splits or _measured(row):
        return None
    return None if UNSTATED in {s.lower() for s in splits} else SPLIT_NOT_STATED


# ------------------------------------------------------------------------------------------------ aggregates


@dataclass(frozen=True)
class Coverage:
    """A model's rows on an aggregate: the member values found and the members missing."""

    values: tuple[float | None, ...]  # one per member, None where missing
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def mean(self) -> float | None:
        """The aggregate's value, only when every member is covered (partial coverage is never averaged)."""
        if not self.complete or not self.values:
            return None
        return sum(v for v in self.values if v is not None) / len(self.values)


def aggregate_coverage(
    bench: Mapping[str, Any] | Benchmark, rows: Iterable[_RowLike], task_id: str | None = None
) -> Coverage:
    """Match one model's rows against an aggregate's members (first matching row per member)."""
    bench = as_benchmark(bench)
    members = bench.aggregate
    values: list[float | None] = [None] * len(members)
    for row in rows:
        for index, member in enumerate(members):
            if values[index] is None and member_problem(bench, member, row, task_id) is None:
                values[index] = float(row.value)
    missing = tuple(m.label() for m, v in zip(members, values, strict=True) if v is None)
    return Coverage(values=tuple(values), missing=missing)


# ------------------------------------------------------------------------------------------------ dataset names


def benchmark_datasets(benchmarks: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every dataset (lower case) a list of benchmarks reads, aggregate members included."""
    names: set[str] = set()
    for bench in benchmarks:
        names.update(d.partition(":")[0].lower() for d in bench.get("datasets") or ())
        names.update(c["dataset"].lower() for c in bench.get("aggregate") or ())
    return names
