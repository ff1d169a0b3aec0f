"""The accuracy component from quality evidence: like is compared only with like.

Each evidence row (a published result, or one measured here on a registered evaluation set) is matched to one of
the task's benchmarks (catalog.yaml `benchmarks`, seeded into `tasks.benchmarks`) by the rule in
catalog.evidence.benchmarks, the one `catalog evidence list --benchmark` applies. Rows are compared only inside a
*comparable group*: the same benchmark, dataset, config, split, canonical metric, direction and protocol (n-shot and
prompt variant) and, for perplexity, the same tokenizer. A model's standing in a group is its mid-rank percentile
among the candidates that have a row in it ((worse + half the ties + 0.5) / n, so the best of n is near 1 and the
worst near 0, never exactly 0); a group with a single candidate places nobody. A benchmark's standing is the mean
of the model's group standings in it; the accuracy value is the weighted mean over the benchmarks where any
candidate has a standing, a benchmark the model has no standing in counting as the middle (0.5), so one lucky
figure does not outrank a full record. Aggregates (an MTEB mean ...) give a model a value only when it covers every
member; partial coverage is reported, never averaged as complete.

A candidate without direct evidence may get a prior, always labelled as one: the standing of its base model
discounted for a fine-tune, else its family's median standing discounted more.

Everything here is plain data in, plain data out (no database), so the property "no ranking ever compares values
across benchmarks, metrics or directions" can be tested over generated evidence.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from catalog.evidence.benchmarks import (
    MEASURED_KIND,
    Benchmark,
    Member,
    language_of,
    member_problem,
    parse_benchmarks,
    result_problem,
    shots_of,
    split_note,
    variant_of,
)

__all__ = ["MEASURED_KIND", "Benchmark", "Member", "parse_benchmarks"]  # re-exported: the ranking's vocabulary

# Priors, designed from the data (the 9,715-model snapshot with ../shared/evidence imported; the ranking check in
# tests/perf/test_ranking_quality.py prints these figures): leaving one evaluated model out, the family prior
# tracks the model's own standing only weakly (text generation, 107 models: Pearson +0.61 from differences between
# families, Spearman about +0.1; sentence similarity: none), and the nearest-in-size members of the family or of the
# task predict worse still, so size is not used. Fine-tunes whose base model is evaluated too are rare (4 pairs;
# they stood at 1.1-1.6x their base). Hence a prior is heavily discounted, and always labelled as one: it orders
# unevaluated models among themselves more than it competes with evidence.
FINE_TUNE_DISCOUNT = 0.6  # a fine-tune keeps most of its base model's standing, but its own task data decides
FAMILY_DISCOUNT = 0.4  # a family spans sizes and generations: its median says little about one member
FAMILY_SHRINK = 2.0  # a family's median is shrunk toward the middle (0.5) as if it had this many more members
# The family prior is used only where, among these very candidates, a family's other evaluated members predict an
# evaluated one (leave one out, Pearson over at least MIN_FAMILY_PAIRS models): +0.61 for text generation, about 0
# for sentence similarity, negative for speech recognition on the data above.
MIN_FAMILY_RELIABILITY = 0.3
MIN_FAMILY_PAIRS = 8
MISSING_STANDING = 0.5  # a benchmark a model has no comparable result on counts as the middle
# Preference among several rows of one model in one comparable group: measured here, then curated leaderboards ...
_KIND_ORDER = {MEASURED_KIND: 0, "leaderboard": 1, "paper": 2, "model-card": 3, "hub": 3, "user": 4}
SOURCE_TAGS = {MEASURED_KIND: "here", "model-card": "card", "hub": "card", "leaderboard": "leaderboard",
               "paper": "paper", "user": "user", "curated": "card"}  # fmt: skip


def source_tag(kind: str) -> str:
    """The short source label shown in tables: [here], [card], [leaderboard] ..."""
    return SOURCE_TAGS.get(kind, kind)


@dataclass(frozen=True)
class EvidenceItem:
    """What ranking reads of one evidence row, or of one measured result here (source_kind "measured")."""

    key: str  # "evidence 12" / "run 3 result 7": names the row in explanations
    model_id: str
    task_id: str | None
    dataset: str
    dataset_config: str | None
    split: str | None
    metric: str
    value: float
    higher_is_better: bool
    n_shot: int | None = None
    protocol: str | None = None
    source_kind: str = "model-card"
    source_name: str = ""
    source_date: datetime | None = None
    verified: bool = False
    tokenizer: str | None = None  # for perplexity: the tokenizer the value depends on, when recorded
    subset: str | None = None  # measured here: the evaluated data's checksum (a --limit changes it)
    dataset_label: str | None = None  # a display name when the row is not on one of the task's benchmarks
    published_as: str | None = None  # the model id the source used, where it differs (a pre-2024 Hub id ...)

    @property
    def shots(self) -> int | None:
        return shots_of(self.n_shot, self.protocol)

    @property
    def variant(self) -> str | None:
        return variant_of(self.protocol)

    def describe(self) -> str:
        where = "/".join(part for part in (self.dataset, self.dataset_config, self.split) if part)
        protocol = ", ".join(p for p in (f"{self.shots}-shot" if self.shots is not None else None, self.variant) if p)
        return (f"{self.metric} {self.value:.4g} on {where}" + (f" ({protocol})" if protocol else "")
                + f" [{self.source_kind}: {self.source_name}]")  # fmt: skip


@dataclass(frozen=True)
class Ignored:
    item: EvidenceItem
    reason: str


@dataclass(frozen=True)
class Used:
    """A row (or, for an aggregate, the mean of a full set of rows) placed among `compared` candidates."""

    items: tuple[EvidenceItem, ...]
    benchmark: str  # benchmark name (display)
    benchmark_id: str
    group: tuple[Any, ...]
    value: float
    metric: str
    higher_is_better: bool
    standing: float
    compared: int
    label: str | None = None  # the metric's display label, when the benchmark's record gives it

    @property
    def item(self) -> EvidenceItem:
        return self.items[0]


@dataclass
class Quality:
    """The accuracy component of one candidate and everything that went into it."""

    value: float = 0.0
    basis: str = "none"  # evidence | prior | none
    benchmarks: dict[str, float] = field(default_factory=dict)  # benchmark name -> the model's standing
    used: list[Used] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)  # "MTEB-classic: 40 of 56 tasks"
    prior: str | None = None  # how the prior was formed
    headline: Used | None = None  # the figure shown for the model (measured here first)
    shown: EvidenceItem | None = None  # an on-task figure to show when nothing could be compared
    shown_on: str | None = None  # the benchmark `shown` is on
    shown_label: str | None = None  # its metric's display label, when known without the registry
    notes: dict[str, str] = field(default_factory=dict)  # row key -> a caveat on a row taken ("split not stated")

    def describe(self) -> str:
        if self.basis == "evidence":
            parts = [f"{name} {value:.2f}" for name, value in self.benchmarks.items()]
            return "standing " + ", ".join(parts)
        if self.basis == "prior":
            return f"prior: {self.prior}"
        return "no comparable evidence"


@dataclass(frozen=True)
class CandidateFacts:
    """What the prior reads of a candidate."""

    base_model: str | None = None
    family: str | None = None


class Lineage(Protocol):
    """What assess reads of a candidate (CandidateFacts, or the recommender's own candidate rows)."""

    @property
    def base_model(self) -> str | None: ...

    @property
    def family(self) -> str | None: ...


class Assessment(dict[str, Quality]):
    """model -> Quality for the candidates with evidence rows (used or ignored) or a prior; any other candidate
    reads as a fresh Quality() (no evidence, value 0), made when first asked for: a task with tens of thousands of
    candidates and a few hundred evaluated ones builds a few hundred records."""

    def __missing__(self, model: str) -> Quality:
        found = self[model] = Quality()
        return found


def _preference(item: EvidenceItem) -> tuple[Any, ...]:
    stamp = item.source_date.timestamp() if item.source_date else 0.0
    return (_KIND_ORDER.get(item.source_kind, 5), not item.verified, -stamp, item.key)


def _tokenizer_key(item: EvidenceItem, facts: Mapping[str, Lineage]) -> str:
    """Perplexity depends on the tokenizer: the recorded one, else the model's lineage root (a fine-tune keeps its
    base model's tokenizer), so unrelated models are never compared on it."""
    if item.tokenizer:
        return item.tokenizer
    cand = facts.get(item.model_id)
    return (cand.base_model if cand and cand.base_model else None) or item.model_id


def _is_perplexity(metric: str) -> bool:
    return metric.lower() in ("perplexity", "ppl", "word-perplexity", "bits-per-byte", "bpb")


# (benchmark, comparable group key, aggregate member, note such as "split not stated")
Placement = tuple[Benchmark | None, tuple[Any, ...], Member | None, str | None]


class _Matcher:
    """Finds the benchmarks (and comparable groups) a row belongs to, or the reason it cannot be compared. Whether a
    row counts on a benchmark is catalog.evidence.benchmarks' rule (the one `catalog evidence list --benchmark`
    uses); the indexes here only narrow which benchmarks to ask."""

    def __init__(
        self, task_id: str, benchmarks: Sequence[Benchmark], facts: Mapping[str, Lineage], languages: Sequence[str]
    ) -> None:
        self.task_id = task_id
        self.languages = tuple(languages)
        self.benchmarks = list(benchmarks)
        self.facts = facts
        self.by_dataset: dict[str, list[Benchmark]] = {}
        self.member_of: dict[str, list[tuple[Benchmark, Member]]] = {}
        self._seen: dict[tuple[Any, ...], tuple[list[Placement], str | None]] = {}
        for bench in self.benchmarks:
            for dataset in {d.partition(":")[0].lower() for d in bench.datasets}:
                self.by_dataset.setdefault(dataset, []).append(bench)
            for member in bench.aggregate:
                self.member_of.setdefault(member.dataset.lower(), []).append((bench, member))

    def _key(self, bench_id: str, item: EvidenceItem, bench: Benchmark | None) -> tuple[Any, ...]:
        key: tuple[Any, ...] = (bench_id, item.metric, item.higher_is_better)
        key += (bench.n_shot, bench.variant) if bench else (item.shots, item.variant)
        if item.source_kind == MEASURED_KIND:  # measured here: only on the very same evaluated data
            key += ("here", item.subset)
        if _is_perplexity(item.metric):
            key += (_tokenizer_key(item, self.facts),)
        return key

    def place(self, item: EvidenceItem) -> tuple[list[Placement], str | None]:
        """`_place`, remembered per row shape: thousands of rows share a few dozen (dataset, metric, protocol ...)
        combinations. Perplexity rows are placed one by one (their group depends on the model's tokenizer)."""
        if _is_perplexity(item.metric):
            return self._place(item)
        shape = (item.task_id, item.dataset, item.dataset_config, item.split, item.metric, item.higher_is_better,
                 item.n_shot, item.protocol, item.source_kind == MEASURED_KIND, item.subset)  # fmt: skip
        found = self._seen.get(shape)
        if found is None:
            found = self._seen[shape] = self._place(item)
        return found

    def _place(self, item: EvidenceItem) -> tuple[list[Placement], str | None]:
        """Every (benchmark, group key, aggregate member, note) the row counts for, or why it counts for none."""
        other_task = item.task_id is not None and item.task_id != self.task_id
        placements: list[Placement] = []
        reasons: list[str] = []
        dataset = item.dataset.lower()
        for bench in self.by_dataset.get(dataset, []):
            reason = result_problem(bench, item, self.task_id, self.languages)
            if reason:
                reasons.append(reason)
            else:
                key = self._key(bench.id, item, bench)
                if bench.by_language:  # one language's results compare only with that language's, on one release
                    key += (("language", item.dataset.lower(), language_of(item)),)
                placements.append((bench, key, None, split_note(bench, item)))
        if item.source_kind != MEASURED_KIND:  # member_problem refuses it: a set measured here stands alone
            for bench, member in self.member_of.get(dataset, []):
                reason = member_problem(bench, member, item, self.task_id)
                if reason:
                    reasons.append(reason)
                    continue
                key = (bench.id, "aggregate", bench.n_shot, bench.variant, item.higher_is_better)
                placements.append((bench, key, member, split_note(bench, item, member)))
        if placements:
            return placements, None
        reasons = [r for r in reasons if not r.startswith("not on ")]  # another config of a listed dataset name
        if other_task:
            return [], next((r for r in reasons if r.startswith("off-task")), f"off-task: measures {item.task_id}")
        if reasons:
            return [], reasons[0]
        if item.source_kind == MEASURED_KIND or not self.benchmarks:
            # a set measured here that no benchmark names, or a task without curated benchmarks: rows are grouped
            # as they come, by dataset, config, split, metric, direction and protocol
            where = "/".join(p.strip().lower() for p in (item.dataset, item.dataset_config, item.split) if p)
            return [(None, self._key(f"~{where}", item, None), None, None)], None
        return [], "not on one of the task's benchmarks (catalog.yaml)"


def _percentiles(values: Mapping[str, float], higher_is_better: bool) -> dict[str, float]:
    """Mid-rank percentile of each model among the others: (worse + ties/2 + 0.5) / n."""
    ordered = sorted(values.values())
    n = len(ordered)
    from bisect import bisect_left, bisect_right

    out = {}
    for model, value in values.items():
        below, upto = bisect_left(ordered, value), bisect_right(ordered, value)
        ties = upto - below - 1
        worse = below if higher_is_better else n - upto
        out[model] = (worse + ties / 2 + 0.5) / n
    return out


def assess(
    task_id: str,
    benchmarks: Sequence[Benchmark],
    evidence: Mapping[str, Sequence[EvidenceItem]],
    facts: Mapping[str, Lineage],
    languages: Sequence[str] = (),
) -> Assessment:
    """The accuracy component of every candidate (the keys of `facts`) from its evidence: an Assessment, which
    holds the candidates with evidence or a prior and reads any other candidate as Quality() (no evidence).
    `languages`: those asked for (--language), which the by_language benchmarks rank on."""
    matcher = _Matcher(task_id, benchmarks, facts, languages)
    quality = Assessment()
    groups: dict[tuple[Any, ...], dict[str, list[EvidenceItem]]] = {}  # group key -> model -> rows
    aggregates: dict[tuple[Any, ...], dict[str, dict[Member, list[EvidenceItem]]]] = {}
    group_bench: dict[tuple[Any, ...], Benchmark | None] = {}
    for model, items in evidence.items():
        if model not in facts or not items:
            continue
        q = quality[model]
        for item in items:
            placements, reason = matcher.place(item)
            if not placements:
                q.ignored.append(Ignored(item, reason or "not comparable"))
                continue
            if q.shown is None or _preference(item) < _preference(q.shown):
                q.shown = item
                bench, _, member, _ = placements[0]
                if bench is not None and member is not None:  # one task of an aggregate: never the aggregate's value
                    q.shown_on, q.shown_label = f"{item.dataset} (part of {bench.name})", None
                elif bench is not None:
                    q.shown_on, q.shown_label = _display_name(bench, item), bench.label_for(item.metric)
                else:
                    q.shown_on, q.shown_label = item.dataset_label or item.dataset, None
            for bench, key, member, note in placements:
                group_bench[key] = bench
                if note:
                    q.notes[item.key] = note
                if member is not None:
                    aggregates.setdefault(key, {}).setdefault(model, {}).setdefault(member, []).append(item)
                else:
                    groups.setdefault(key, {}).setdefault(model, []).append(item)

    for key, by_member in aggregates.items():  # a value only with every member covered
        bench = group_bench[key]
        assert bench is not None
        complete: dict[str, tuple[float, tuple[EvidenceItem, ...]]] = {}
        for model, members in by_member.items():
            picks = []
            for member, rows in members.items():
                rows = sorted(rows, key=_preference)
                picks.append(rows[0])
                note = f"another figure for {member.dataset} preferred"
                quality[model].ignored += [Ignored(r, note) for r in rows[1:]]
            if len(members) == len(bench.aggregate):
                complete[model] = (sum(r.value for r in picks) / len(picks), tuple(picks))
            else:
                note = f"{bench.name}: partial coverage, {len(members)} of {len(bench.aggregate)}"
                quality[model].partial.append(note)
                quality[model].ignored += [Ignored(r, note) for r in picks]
        _place_group(quality, bench, key, complete, bench.metric or "mean", bool(key[-1]))

    for key, by_model in groups.items():
        chosen: dict[str, tuple[float, tuple[EvidenceItem, ...]]] = {}
        for model, rows in by_model.items():
            rows = sorted(rows, key=_preference)
            chosen[model] = (rows[0].value, (rows[0],))
            quality[model].ignored += [Ignored(r, f"another figure preferred: {rows[0].key}") for r in rows[1:]]
        first = next(iter(by_model.values()))[0]
        _place_group(quality, group_bench[key], key, chosen, first.metric, first.higher_is_better)

    # Combine by weight: the task's benchmarks with their own; sets measured here that no benchmark names, and
    # groups of a task without benchmarks, weigh as the heaviest benchmark (a measured set is the user's own data).
    weights = {bench.id: bench.weight for bench in benchmarks}
    default_weight = max(weights.values(), default=1.0)
    # summed in one fixed order (the task's benchmarks, then the others by id), so a value never depends on the
    # process's string hashing
    listed = {bench.id: i for i, bench in enumerate(benchmarks)}
    found = {used.benchmark_id for q in quality.values() for used in q.used}
    active = sorted(found, key=lambda bench_id: (listed.get(bench_id, len(listed)), bench_id))
    total = sum(weights.get(bench_id, default_weight) for bench_id in active)
    for q in quality.values():
        if not q.used:
            continue
        per_bench: dict[str, list[float]] = {}
        names: dict[str, str] = {}
        for used in q.used:
            per_bench.setdefault(used.benchmark_id, []).append(used.standing)
            names[used.benchmark_id] = used.benchmark
        standing = {bench_id: sum(s) / len(s) for bench_id, s in per_bench.items()}
        q.benchmarks = {names[bench_id]: value for bench_id, value in standing.items()}
        got = sum(weights.get(b, default_weight) * standing.get(b, MISSING_STANDING) for b in active)
        q.value = got / total if total > 0 else 0.0
        q.basis = "evidence"
        q.headline = min(
            q.used,
            key=lambda u: (u.item.source_kind != MEASURED_KIND, -weights.get(u.benchmark_id, default_weight),
                           -u.compared, _preference(u.item)),
        )  # fmt: skip
    _priors(quality, facts)
    return quality


def _display_name(bench: Benchmark, item: EvidenceItem) -> str:
    """The benchmark's name, with the row's language on a by_language benchmark (FLEURS fr)."""
    return f"{bench.name} {language_of(item)}" if bench.by_language else bench.name


def _place_group(
    quality: dict[str, Quality],
    bench: Benchmark | None,
    key: tuple[Any, ...],
    chosen: Mapping[str, tuple[float, tuple[EvidenceItem, ...]]],
    metric: str,
    higher_is_better: bool,
) -> None:
    if bench is not None:
        bench_id, name = bench.id, bench.name
        if bench.by_language and chosen:
            name = _display_name(bench, next(iter(chosen.values()))[1][0])
    else:
        first = next(iter(chosen.values()))[1][0] if chosen else None
        bench_id = str(key[0])
        label = (first.dataset_label or first.dataset) if first else bench_id
        name = f"{label} (here)" if first is not None and first.source_kind == MEASURED_KIND else label
    if len(chosen) < 2:
        for model, (_, rows) in chosen.items():
            quality[model].ignored += [Ignored(r, f"no comparable candidates on {name}") for r in rows]
        return
    standings = _percentiles({model: value for model, (value, _) in chosen.items()}, higher_is_better)
    for model, (value, rows) in chosen.items():
        quality[model].used.append(
            Used(
                rows,
                name,
                bench_id,
                key,
                value,
                metric,
                higher_is_better,
                standings[model],
                len(chosen),
                bench.label_for(metric) if bench else None,
            )
        )


def _priors(quality: Assessment, facts: Mapping[str, Lineage]) -> None:
    """Priors for the candidates without evidence; none at all when no candidate has evidence (a prior needs an
    evaluated base model or family members)."""
    if not any(q.basis == "evidence" for q in quality.values()):
        return
    by_family: dict[str, list[float]] = {}
    for model, cand in facts.items():  # in the candidates' order
        q = quality.get(model)
        if q is not None and q.basis == "evidence" and cand.family:
            by_family.setdefault(cand.family, []).append(q.value)
    reliability = family_reliability(by_family.values())
    for model, cand in facts.items():
        evaluated = quality.get(model)
        if evaluated is not None and evaluated.basis == "evidence":
            continue
        base = quality.get(cand.base_model) if cand.base_model else None
        if base is not None and base.basis == "evidence":
            q = quality[model]
            q.value = FINE_TUNE_DISCOUNT * base.value
            q.basis = "prior"
            q.prior = f"fine-tune of {cand.base_model} (standing {base.value:.2f}) x {FINE_TUNE_DISCOUNT:g}"
        elif cand.family and len(by_family.get(cand.family, [])) >= 2 and reliability >= MIN_FAMILY_RELIABILITY:
            q = quality[model]
            members = by_family[cand.family]
            q.value = family_prior(members)
            q.basis = "prior"
            q.prior = (f"family {cand.family}: median standing {statistics.median(members):.2f} of {len(members)} "
                       f"ranked members, shrunk to the middle by {FAMILY_SHRINK:g}, x {FAMILY_DISCOUNT:g} (here a "
                       f"family's other members predict an evaluated one at r = {reliability:.2f})")  # fmt: skip


def family_prior(standings: Sequence[float]) -> float:
    """The prior of an unevaluated member of a family whose evaluated members stand at `standings`."""
    n = len(standings)
    return FAMILY_DISCOUNT * (n * statistics.median(standings) + FAMILY_SHRINK * MISSING_STANDING) / (n + FAMILY_SHRINK)


def family_reliability(families: Iterable[Sequence[float]]) -> float:
    """How well family_prior predicts an evaluated model from its family's other evaluated members (leave one out,
    Pearson), over families with at least three; 0 with fewer than MIN_FAMILY_PAIRS such models."""
    pairs = [
        (value, family_prior([*standings[:i], *standings[i + 1 :]]))
        for standings in families
        if len(standings) >= 3
        for i, value in enumerate(standings)
    ]
    if len(pairs) < MIN_FAMILY_PAIRS:
        return 0.0
    own, predicted = [a for a, _ in pairs], [b for _, b in pairs]
    mean_own, mean_predicted = sum(own) / len(own), sum(predicted) / len(predicted)
    cov = sum((a - mean_own) * (b - mean_predicted) for a, b in pairs)
    spread = (sum((a - mean_own) ** 2 for a in own) * sum((b - mean_predicted) ** 2 for b in predicted)) ** 0.5
    return cov / spread if spread > 0 else 0.0
