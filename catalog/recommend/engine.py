"""The recommender: hard constraints in SQL (indexed), then explained scores, service targets, the Pareto
frontier and lineage hints in Python over the candidates' few scalar columns. Full records are loaded only for
the rows shown, so a task with tens of thousands of models still answers quickly."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from catalog.db.meta import utcnow
from catalog.db.reader import Reader, as_datetime, as_json, as_reader, column, first, reading, scalar
from catalog.errors import CatalogError, UnknownLanguageError, UnknownLicenseError, UsageError
from catalog.lookup import model_records, resolve_architecture, resolve_family, resolve_task
from catalog.recommend import quality as q
from catalog.recommend.constraints import Constraints, license_classes, license_known
from catalog.recommend.scoring import COMPONENTS, LOWER_IS_BETTER, PROFILES, RANDOM_WEIGHTS_LABEL, profile_weights
from catalog.records import ModelRecord

if TYPE_CHECKING:
    from catalog.db.engine import Database

DEFAULT_WEIGHTS: Mapping[str, float] = PROFILES["balanced"]


class NoMatchError(CatalogError):
    """The constraints leave no model; the message says which constraint removed how many."""


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
class Figure:
    """A number with where it comes from: kind is measured | reported | estimated."""

    value: float
    kind: str
    basis: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AccuracyFigure(Figure):
    """The evidence shown for a model: one result (measured here first), or a prior. `standing` is the accuracy
    component it fed (its place among the candidates); `compared` is false for a figure shown but not placed (no
    other candidate has a comparable one)."""

    metric: str = ""
    label: str = ""  # the metric's short display label (F1, WER ...)
    benchmark: str = ""
    source: str = ""  # source kind: measured | leaderboard | model-card | paper | user | hub | prior
    source_name: str = ""
    date: str | None = None
    verified: bool = False
    higher_is_better: bool = True
    compared: bool = True
    standing: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"display": self.cell()}

    def cell(self) -> str:
        """`0.926 F1 CoNLL-03 [card]`, `0.21 WER LibriSpeech [here]`, `prior 0.42 [prior]`."""
        if self.kind == "prior":
            return f"prior {self.value:.2f}"
        parts = [f"{self.value:.3g}", self.label, self.benchmark]
        text = " ".join(p for p in parts if p) + f" [{q.source_tag(self.source)}]"
        return text + ("" if self.compared else " (alone)")


@dataclass(frozen=True)
class Recommendation:
    rank: int
    model: ModelRecord
    task: str
    score: float
    why: str
    components: list[Component] = field(default_factory=list)
    accuracy: Figure | None = None
    accuracy_metric: str | None = None
    latency_ms: Figure | None = None
    memory_bytes: Figure | None = None
    pareto: bool = False
    flags: list[str] = field(default_factory=list)
    fits_as: dict[str, Any] | None = None  # --fits: fits only at this smaller dtype or quantisation (estimated)
    evidence: q.Quality | None = None  # every row used or ignored, for --explain
    downloads_as_of: str | None = None  # the date of the downloads figure
    params_basis: str | None = None  # where the parameter count comes from

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
            "downloads_as_of": self.downloads_as_of,
            "params_basis": self.params_basis,
            "score": round(self.score, 4),
            "why": self.why,
            "accuracy": self.accuracy.to_dict() if self.accuracy else None,
            "accuracy_metric": self.accuracy_metric,
            "latency_ms": self.latency_ms.to_dict() if self.latency_ms else None,
            "memory_bytes": self.memory_bytes.to_dict() if self.memory_bytes else None,
            "pareto": self.pareto,
            "base_model": m.base_model,
            "api_only": m.api_only,
            "gated": m.gated,
            "flags": self.flags,
            "fits_as": self.fits_as,
            "components": [asdict(c) | {"contribution": round(c.contribution, 6)} for c in self.components],
        }


@dataclass(frozen=True)
class Unverifiable:
    """A model that passes the hard constraints but has no figure to check a target against."""

    id: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Recommendations:
    task: str
    items: list[Recommendation]
    considered: int
    excluded: dict[str, int]
    profile: str = "balanced"
    weights: dict[str, float] = field(default_factory=dict)
    unverifiable: list[Unverifiable] = field(default_factory=list)  # the first 20, curated and popular first
    unverifiable_total: int = 0
    suggestion: str | None = None
    matched: int = 0
    empty_reason: str | None = None  # set when no model is ranked (the CLI exits 1 with it)

    def __iter__(self) -> Iterator[Recommendation]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def to_list(self) -> list[dict[str, Any]]:
        return [item.to_dict() for item in self.items]

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "profile": self.profile,
            "weights": self.weights,
            "considered": self.considered,
            "matched": self.matched,
            "excluded": self.excluded,
            "items": self.to_list(),
            "unverifiable": [u.to_dict() for u in self.unverifiable],
            "unverifiable_total": self.unverifiable_total,
            "suggestion": self.suggestion,
        }

    def to_dataframe(self) -> Any:
        import pandas as pd  # heavy: only when asked for

        rows = []
        for item in self.to_list():
            row = {k: v for k, v in item.items() if k not in ("components", "accuracy", "latency_ms", "memory_bytes")}
            for name in ("accuracy", "latency_ms", "memory_bytes"):
                figure = item[name]
                row[name] = figure["value"] if figure else None
                row[f"{name}_source"] = f"{figure['kind']}: {figure['basis']}" if figure else None
            rows.append(row)
        return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------ helpers


def _humanize(count: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= size:
            return f"{count / size:.1f}{unit}"
    return f"{count:g}"


def _machine_memory_bytes() -> int:
    import psutil

    return int(psutil.virtual_memory().total * 0.8)


def _machine_id() -> str | None:
    """This machine's id, to find its benchmark results (the cost model reads its calibration itself)."""
    try:
        from catalog import hardware

        return str(hardware.fingerprint()["machine_id"])
    except Exception:  # the probe must never break a recommendation
        return None


def _measured(
    reader: Reader, task_id: str, machine: str | None, c: Constraints
) -> tuple[dict[str, dict[str, Any]], dict[str, list[q.EvidenceItem]]]:
    """What benchmark runs on this machine measured per model for this task.

    Latency and peak memory only from results that match the request (batch size, sequence length, dtype, and the
    device when one is asked for), the latest matching one; and every accuracy result on labelled data here (real
    weights, any shape), as evidence: the latest per model, evaluation set and metric."""
    if machine is None:
        return {}, {}
    from catalog.evidence.registry import canonical_metric

    rows = reader.all(
        "SELECT r.id, r.model_id, r.batch_size, r.seq_len, r.device, r.dtype, r.latency_p50_ms, r.peak_rss_infer_mb, "
        "r.weights, r.primary_metric, r.metrics, r.eval_set, r.eval_checksum, r.n_examples, r.run_id, runs.created_at "
        "FROM benchmark_results r JOIN benchmark_runs runs ON runs.id = r.run_id "
        "WHERE runs.machine_id = :machine AND r.status = 'ok' AND (r.task_id = :task OR r.task_id IS NULL) "
        "ORDER BY r.id",
        {"machine": machine, "task": task_id},
    )
    found: dict[str, dict[str, Any]] = {}
    evidence: dict[tuple[str, str, str], q.EvidenceItem] = {}
    for row in rows:
        result: Any = _MeasuredRow(*row[:10], as_json(row[10]), *row[11:15], as_datetime(row[15]))  # type: ignore[call-arg]
        shape_ok = result.batch_size == c.batch_size and result.seq_len == c.seq_len and result.dtype == c.dtype
        if shape_ok and (c.device is None or result.device == c.device) and result.latency_p50_ms:
            found[result.model_id] = dict(
                p50=result.latency_p50_ms, peak_mb=result.peak_rss_infer_mb, run=result.run_id,
                weights=result.weights, device=result.device, dtype=result.dtype,
            )  # fmt: skip
        metric = result.primary_metric
        value = (result.metrics or {}).get(metric) if metric else None
        if value is None or result.weights == "random" or not result.eval_set:
            continue
        spec = canonical_metric(metric, task_id)
        name = spec.name if spec else metric
        higher = spec.higher_is_better if spec else metric.lower() not in LOWER_IS_BETTER
        evidence[(result.model_id, result.eval_set, name)] = q.EvidenceItem(
            key=f"run {result.run_id} result {result.id}", model_id=result.model_id, task_id=None,
            dataset=result.eval_set, dataset_config=None, split=None, metric=name, subset=result.eval_checksum,
            value=float(value), higher_is_better=higher, source_kind=q.MEASURED_KIND,
            source_name=f"benchmark run {result.run_id} on this machine ({result.n_examples or '?'} examples)",
            source_date=result.created_at, verified=True,
        )  # fmt: skip
    by_model: dict[str, list[q.EvidenceItem]] = {}
    for item in evidence.values():
        by_model.setdefault(item.model_id, []).append(item)
    return found, by_model


class _MeasuredRow(NamedTuple):
    id: int
    model_id: str
    batch_size: int
    seq_len: int
    device: str
    dtype: str
    latency_p50_ms: float | None
    peak_rss_infer_mb: float | None
    weights: str
    primary_metric: str | None
    metrics: dict[str, Any] | None
    eval_set: str | None
    eval_checksum: str | None
    n_examples: int | None
    run_id: int
    created_at: datetime | None


def _evidence(
    conn: Any, task_id: str, candidate_ids: AbstractSet[str], benchmarks: list[dict[str, Any]]
) -> dict[str, list[q.EvidenceItem]]:
    """Published results that bear on the task, kept for the candidates: the rows catalog.evidence.query's
    task_condition selects (the task's own, or on a dataset one of its benchmarks reads), read with only the
    columns ranking needs (details, a JSON column, only for perplexity rows, whose tokenizer it may name), so tens
    of thousands of MTEB rows cost little. A row naming a model by its pre-2024 Hub id or in another case is the
    candidate's (catalog.evidence.identity). Up to 900 candidates the read goes by ix_evidence_model and the task
    filter is applied here; beyond, by the task's condition (task_id, or dataset IN its stored spellings). The
    other spellings of the candidates' ids are worked out only when a row names no candidate as written."""
    from catalog.evidence.benchmarks import benchmark_datasets
    from catalog.evidence.identity import ModelIds

    reader = as_reader(conn)
    ids: ModelIds | None = None
    datasets = benchmark_datasets(benchmarks)
    by_model = False  # an IN list within every backend's parameter limit (the spellings include every id)
    if len(candidate_ids) <= 900:
        ids = ModelIds(candidate_ids)
        spellings = ids.spellings()
        by_model = len(spellings) <= 900
    params: dict[str, Any] = {"perplexity": "perplexity"}
    if by_model:
        condition = "model_id IN :spellings"
        params["spellings"] = sorted(spellings)
    else:  # the task's rows: its own, or on a dataset (in any stored spelling) one of its benchmarks reads
        condition = "task_id = :task"
        params["task"] = task_id
        stored = _stored_spellings(reader, datasets)
        if stored:
            condition = "(task_id = :task OR dataset IN :datasets)"
            params["datasets"] = stored
    rows = reader.all(
        "SELECT id, model_id, task_id, dataset, dataset_config, split, metric, value, higher_is_better, n_shot, "
        "protocol, source_kind, source_name, source_date, verified, "
        "CASE WHEN metric = :perplexity THEN details END AS details "
        f"FROM evidence WHERE {condition} ORDER BY model_id, source_date DESC, id",
        params,
    )
    found: dict[str, list[q.EvidenceItem]] = {}
    resolved: dict[str, str | None] = {}
    for r in rows:
        if by_model and r[2] != task_id and r[3].lower() not in datasets:
            continue
        named = r[1]
        if named in candidate_ids:
            model: str | None = named
        elif named in resolved:
            model = resolved[named]
        else:
            ids = ids or ModelIds(candidate_ids)
            model = resolved[named] = ids.resolve(named)
        if model is not None:
            found.setdefault(model, []).append(_item(r) if model == named else _aliased(_item(r), model))
    return found


def _stored_spellings(reader: Reader, names: AbstractSet[str]) -> list[str]:
    """Every spelling of `names` (compared case-insensitively) that evidence.dataset holds, so that the filter is
    `dataset IN (...)`, which ix_evidence_dataset answers; the distinct values come from the index by one seek each
    (catalog.evidence.query.stored_spellings, in plain SQL)."""
    wanted = {name.lower() for name in names}
    if not wanted:
        return []
    stored = column(
        reader,
        "WITH RECURSIVE d(name) AS (SELECT min(dataset) FROM evidence UNION ALL "
        "SELECT (SELECT min(dataset) FROM evidence WHERE dataset > d.name) FROM d WHERE d.name IS NOT NULL) "
        "SELECT name FROM d WHERE name IS NOT NULL",
    )
    return sorted(name for name in stored if name.lower() in wanted)


def _aliased(item: q.EvidenceItem, model_id: str) -> q.EvidenceItem:
    """A row that names the catalog model `model_id` by another id (kept as published_as)."""
    from dataclasses import replace

    return replace(item, model_id=model_id, published_as=item.model_id)


def _item(r: Any) -> q.EvidenceItem:
    """An evidence row (its first 16 columns in _evidence's order, as a plain tuple: attribute access on rows costs
    more than the rest of the ranking) as what ranking reads."""
    (row_id, model_id, task_id, dataset, config, split, metric, value, higher, n_shot, protocol, kind, name, date,
     verified, details) = tuple(r)[:16]  # fmt: skip
    details = as_json(details) or {}
    return q.EvidenceItem(
        f"evidence {row_id}", model_id, task_id, dataset, config, split, metric, value, bool(higher), n_shot,
        protocol, kind, name, as_datetime(date), bool(verified), details.get("tokenizer"), None,
        details.get("benchmark"),
    )  # fmt: skip


def _row_item(r: Any) -> q.EvidenceItem:
    """A catalog.evidence.query.EvidenceRow as what ranking reads."""
    return _item((r.id, r.model_id, r.task_id, r.dataset, r.dataset_config, r.split, r.metric, r.value,
                  r.higher_is_better, r.n_shot, r.protocol, r.source_kind, r.source_name, r.source_date, r.verified,
                  r.details))  # fmt: skip


def _candidate_columns(clauses: Sequence[str] = ()) -> str:
    """The few scalar columns ranking needs, in _Candidate's field order (license and sync date are read for the
    rows shown only), and which of `clauses` (SQL conditions on models) the row fails: bit i for clause i, as in
    SQL (NULL fails)."""
    failed = " + ".join(["0", *(f"CASE WHEN {clause} THEN 0 ELSE {1 << bit} END" for bit, clause in
                                enumerate(clauses))])  # fmt: skip
    return ("models.id, models.pipeline_tag, models.params, models.downloads, models.likes, models.curated, "
            "models.api_only, models.gated, coalesce(models.hub_last_modified, models.hub_created_at), "
            f"models.base_model, models.family_id, models.architecture_id, {failed}")  # fmt: skip


class _Candidate(NamedTuple):
    """A candidate's scalar columns: a plain tuple, made in C from a row (tens of thousands of them)."""

    id: str
    pipeline_tag: str | None
    params: int | None
    downloads: int | None
    likes: int | None
    curated: bool | int  # as the driver gives a Boolean (0/1 on SQLite): read for its truth only
    api_only: bool | int
    gated: bool | int
    stamp: datetime | None
    base_model: str | None
    family: str | None
    architecture: str | None
    failed: int  # the clauses (constraints) it fails, one bit each: 0 for a candidate


def _candidates(rows: Iterable[tuple[Any, ...]]) -> list[_Candidate]:
    """Candidates from rows in _candidate_columns' order (the date parsed where the driver gives text)."""
    new, parse = tuple.__new__, datetime.fromisoformat
    out = []
    for row in rows:
        stamp = row[8]
        if stamp.__class__ is str:
            row = (*row[:8], parse(stamp), *row[9:])
        out.append(new(_Candidate, row))
    return out


# (-score rounded to 12 digits, -downloads, id: the order, best first), score, candidate, component values
_Scored = tuple[float, int, str, float, _Candidate, tuple[float, ...]]


# ------------------------------------------------------------------------------------------------ main entry


def recommend(
    task: str,
    *,
    limit: int = 10,
    profile: str = "balanced",
    weights: Mapping[str, float] | None = None,
    license: str | Sequence[str] | None = None,
    permissive: bool = False,
    commercial_ok: bool = False,
    language: str | Sequence[str] | None = None,
    max_params: str | int | None = None,
    max_memory: str | int | None = None,
    fits: bool = False,
    dtype: str = "float32",
    architecture: str | None = None,
    family: str | None = None,
    library: str | None = None,
    include_api: bool = False,
    include_gated: bool = False,
    max_latency_ms: float | None = None,
    batch_size: int = 1,
    seq_len: int = 128,
    device: str | None = None,
    min_accuracy: float | None = None,
    pareto_only: bool = False,
    db: Database | str | None = None,
) -> Recommendations:
    """Ranked, explained models for `task` (an id or alias) under the given constraints, best first. `db`: an
    opened Database, or a database URL (None: the configured one), which on a current SQLite file is read without
    SQLAlchemy (catalog.db.reader)."""
    if limit < 0:
        raise UsageError(f"--limit must be 0 (all) or a positive number, not {limit}.")
    if permissive and commercial_ok:
        raise UsageError("Choose one of --permissive and --commercial-ok.")
    constraints = _constraints(
        task,
        dict(license=license, permissive=permissive, commercial_ok=commercial_ok, language=language,
             max_params=max_params, max_memory=max_memory, fits=fits, dtype=dtype, architecture=architecture,
             family=family, library=library, include_api=include_api, include_gated=include_gated,
             max_latency_ms=max_latency_ms, batch_size=batch_size, seq_len=seq_len, device=device,
             min_accuracy=min_accuracy),
    )  # fmt: skip
    chosen = profile_weights(profile, weights)
    with reading(db) as reader:
        return _recommend(reader, constraints, chosen, profile, limit, pareto_only)


def _as_tuple(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value or ())


def _constraints(task: str, options: Mapping[str, Any]) -> Constraints:
    return Constraints(
        task=task,
        licenses=_as_tuple(options.get("license")),
        license_class="permissive" if options.get("permissive") else (
            "commercial-ok" if options.get("commercial_ok") else None),
        languages=_as_tuple(options.get("language")),
        max_params=options.get("max_params"),
        max_memory_bytes=options.get("max_memory"),
        fits=bool(options.get("fits")),
        dtype=options.get("dtype", "float32"),
        architecture=options.get("architecture"),
        family=options.get("family"),
        library=options.get("library"),
        include_gated=bool(options.get("include_gated")),
        include_api=bool(options.get("include_api")),
        max_latency_ms=options.get("max_latency_ms"),
        batch_size=int(options.get("batch_size", 1)),
        seq_len=int(options.get("seq_len", 128)),
        device=options.get("device"),
        min_accuracy=options.get("min_accuracy"),
        machine_memory_bytes=_machine_memory_bytes() if options.get("fits") else None,
    )  # fmt: skip


_IN_TASK = "models.id IN (SELECT model_id FROM model_tasks WHERE task_id = :task)"


class _Clauses(list[tuple[str, str]]):
    """(label, SQL condition on models) per constraint, labelled as the user typed it, with the parameters the
    conditions share (`bind` names them)."""

    def __init__(self) -> None:
        super().__init__()
        self.params: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"c{len(self.params)}"
        self.params[name] = value
        return f":{name}"


def _clauses(reader: Reader, c: Constraints, measured_ids: set[str]) -> _Clauses:
    """The hard constraints as SQL conditions, with their labels."""
    clauses = _Clauses()
    bind = clauses.bind
    if not c.include_api:
        clauses.append(("API-only models (add --include-api)", f"models.api_only = {bind(False)}"))
    if not c.include_gated:
        clauses.append(("gated models (add --include-gated)", f"models.gated = {bind(False)}"))
    if c.licenses:
        known = set(column(reader, "SELECT DISTINCT license FROM models")) | set(license_classes()["commercial-ok"])
        for name in c.licenses:
            if name not in known:
                raise UnknownLicenseError(name, [k for k in known if k])
        clauses.append((f"--license {','.join(c.licenses)}", f"models.license IN {bind(list(c.licenses))}"))
    if c.license_class:
        allowed = sorted(license_classes()[c.license_class])
        clauses.append((f"--{c.license_class}", f"models.license IN {bind(allowed)}"))
    for code in c.languages:
        exists = scalar(reader, "SELECT model_id FROM model_languages WHERE language = :code LIMIT 1", {"code": code})
        if exists is None:
            from catalog.hub.derive import _language_codes

            if code not in _language_codes():
                listed = column(reader, "SELECT DISTINCT language FROM model_languages")
                known_languages = {str(x) for x in listed if x}
                raise UnknownLanguageError(code, known_languages | set(_language_codes()))
        subquery = f"SELECT model_id FROM model_languages WHERE language = {bind(code)}"
        clauses.append((f"--language {code}", f"models.id IN ({subquery})"))
    if c.max_params:
        clauses.append((f"--max-params {_humanize(c.max_params)}", f"models.params <= {bind(int(c.max_params))}"))
    limit = c.memory_limit()
    if limit:
        label = (f"--max-memory {limit / 2**30:.1f}GiB" if not c.fits or (c.max_memory_bytes and c.max_memory_bytes
                 <= (c.machine_memory_bytes or 0)) else f"--fits ({limit / 2**30:.1f}GiB usable here)")  # fmt: skip
        from catalog.costmodel.catalog_figures import memory_clause

        # --fits keeps a model that fits only at a smaller dtype or quantisation; it is flagged with that option
        estimate_ok = memory_clause(bind, limit, c.task, c.batch_size, c.seq_len, c.dtype, smaller=c.fits)
        if measured_ids:
            estimate_ok = f"({estimate_ok} OR models.id IN {bind(sorted(measured_ids))})"
        clauses.append((label, estimate_ok))
    if c.architecture:
        clauses.append((f"--architecture {c.architecture}", f"models.architecture_id = {bind(c.architecture)}"))
    if c.family:
        clauses.append((f"--family {c.family}", f"models.family_id = {bind(c.family)}"))
    if c.library:
        clauses.append((f"--library {c.library}", f"lower(models.library) = {bind(c.library.lower())}"))
    return clauses


def _recommend(
    reader: Reader, c: Constraints, weights: dict[str, float], profile: str, limit: int, pareto_only: bool
) -> Recommendations:
    task_id = resolve_task(reader, c.task)
    if c.architecture:
        c.architecture = resolve_architecture(reader, c.architecture)
    if c.family:
        c.family = resolve_family(reader, c.family)
    machine = _machine_id()
    measured, measured_evidence = _measured(reader, task_id, machine, c)
    clauses = _clauses(reader, c, {m for m, r in measured.items() if r.get("peak_mb")})
    # One read of the task's models, as plain tuples, each with the constraints it fails: the candidates, the
    # exclusion counts, the models no size limit can check and the hint's pick all come from it (before: a pass
    # over the task's models in SQL for each).
    everything = _candidates(
        reader.all(
            f"SELECT {_candidate_columns([cl for _, cl in clauses])} FROM models WHERE {_IN_TASK}",
            clauses.params | {"task": task_id},
        )
    )
    candidates = [cand for cand in everything if not cand.failed]
    considered = len(everything)
    failing = [cand.failed for cand in everything if cand.failed]
    excluded = {label: sum(1 for mask in failing if mask >> bit & 1) for bit, (label, _) in enumerate(clauses)}

    # Models that pass every other constraint but have no parameter count cannot be checked against size limits.
    unverifiable: list[Unverifiable] = []
    size_labels = [label for label, _ in clauses if label.startswith(("--max-params", "--max-memory", "--fits"))]
    if size_labels:
        others = _mask(clauses, lambda label: label not in size_labels)
        no_params = sorted((cand for cand in everything if cand.params is None and not cand.failed & others),
                           key=lambda cand: (cand.downloads is None, -(cand.downloads or 0), cand.id))[:20]  # fmt: skip
        reason = f"no parameter count to check {', '.join(size_labels)}"
        unverifiable += [Unverifiable(cand.id, reason) for cand in no_params]

    raw_benchmarks = list(
        as_json(scalar(reader, "SELECT benchmarks FROM tasks WHERE id = :task", {"task": task_id})) or []
    )
    by_id = {cand.id: cand for cand in candidates}  # also what the prior reads: base model and family
    evidence = _evidence(reader, task_id, by_id.keys(), raw_benchmarks)
    for model_id, measured_items in measured_evidence.items():
        evidence.setdefault(model_id, [])[:0] = measured_items  # measured here first
    benchmarks = q.parse_benchmarks(raw_benchmarks)
    now = utcnow()

    # Figures: numbers for every candidate, Figures (with their basis) for the rows shown --------------------------
    from catalog.costmodel.catalog_figures import recommend_estimator

    estimator = recommend_estimator(reader, c, task_id)  # the cost model, fitted on this machine's runs
    latency = _latencies(candidates, measured, estimator)
    figures = _Figures(c, measured, estimator)

    # Service targets ----------------------------------------------------------------------------------------
    slo_removed: dict[str, int] = {}
    memory_limit = c.memory_limit()
    first: q.Assessment | None = None
    if (
        c.max_latency_ms is None
        and c.min_accuracy is None
        and not (memory_limit and any(run.get("peak_mb") for run in measured.values()))
    ):
        kept = candidates  # no target to check: every candidate stays
    else:
        if c.min_accuracy is not None:
            first = q.assess(task_id, benchmarks, evidence, by_id, c.languages)
        kept = []
        for cand in candidates:
            if c.max_latency_ms is not None:
                if cand.id not in latency:
                    reason = (
                        "API-only: no latency figure" if cand.api_only else "no parameter count for a latency estimate"
                    )
                    unverifiable.append(Unverifiable(cand.id, reason))
                    continue
                if latency[cand.id] > c.max_latency_ms:
                    slo_removed[f"--max-latency-ms {c.max_latency_ms:g}"] = (
                        slo_removed.get(f"--max-latency-ms {c.max_latency_ms:g}", 0) + 1
                    )
                    continue
            peak_mb = measured.get(cand.id, {}).get("peak_mb")
            if memory_limit and peak_mb and peak_mb * 2**20 > memory_limit and not figures.fits_as(cand):
                slo_removed["memory (measured peak)"] = slo_removed.get("memory (measured peak)", 0) + 1
                continue
            if first is not None and c.min_accuracy is not None:
                quality = first.get(cand.id)
                accuracy = _accuracy_figure(quality) if quality is not None else None
                if accuracy is None or accuracy.kind == "prior":
                    unverifiable.append(Unverifiable(cand.id, "no accuracy figure for this task"))
                    continue
                if not accuracy.higher_is_better or accuracy.value > 1:
                    why = f"its figure is {accuracy.cell()}, not a fraction where higher is better: --min-accuracy "
                    unverifiable.append(Unverifiable(cand.id, why + "cannot check it"))
                    continue
                if accuracy.value < c.min_accuracy:
                    slo_removed[f"--min-accuracy {c.min_accuracy:g}"] = (
                        slo_removed.get(f"--min-accuracy {c.min_accuracy:g}", 0) + 1
                    )
                    continue
            kept.append(cand)
    # standings are taken among the models that are left
    if len(kept) < len(candidates):
        assessed = q.assess(task_id, benchmarks, evidence, {cand.id: cand for cand in kept}, c.languages)
    else:
        assessed = first if first is not None else q.assess(task_id, benchmarks, evidence, by_id, c.languages)

    scored = _score_all(kept, latency, assessed, weights, task_id, now)
    pareto_ids = _pareto(by_id, latency, assessed, figures)
    before_pareto = len(scored)
    if pareto_only:
        scored = [item for item in scored if item[4].id in pareto_ids]
    matched = len(scored)
    hint = bool(c.describe())
    if limit and not hint:
        import heapq

        shown = heapq.nsmallest(limit, scored)  # the order's keys are unique (they end with the id)
    else:
        scored.sort()
        shown = scored[:limit] if limit else scored

    empty_reason = None
    if not scored and before_pareto:
        raise NoMatchError(
            f"--pareto: none of the {before_pareto} matching {task_id} models has all three figures the frontier "
            "needs (an accuracy standing from evidence that other candidates share, a latency and a memory figure). "
            "Import published results (catalog evidence import), measure some (catalog bench run), or drop --pareto."
        )
    if not scored:
        empty_reason = _empty_message(task_id, everything, clauses, slo_removed, considered, len(candidates))
        if unverifiable:
            count = len({u.id for u in unverifiable})
            empty_reason += f" ({count} models listed as not checked have no figure for a target.)"
        else:
            raise NoMatchError(empty_reason)

    shown_ids = [item[4].id for item in shown]
    records = model_records(reader, shown_ids)
    synced = _synced_at(reader, shown_ids)
    items: list[Recommendation] = []
    for rank, (_, _, _, score, cand, values) in enumerate(shown, start=1):
        record = records[cand.id]
        figure = figures.of(cand, latency, assessed[cand.id])
        components = _components(cand, values, figure, weights, record, synced.get(cand.id))
        flags = []
        if not license_known(record.license):
            flags.append(f"license {record.license or 'not stated'}: read the model card before use")
        if record.gated:
            flags.append("gated: accept the license on the Hub first")
        fits_as = figure.get("fits_as")
        if fits_as:
            flags.append(_fits_as_text(fits_as))
        items.append(
            Recommendation(
                rank=rank,
                model=record,
                task=task_id,
                score=score,
                why=(_fits_as_text(fits_as) + "; " if fits_as else "") + _why(components, record),
                components=components,
                accuracy=figure.get("accuracy"),
                accuracy_metric=figure.get("accuracy_metric"),
                latency_ms=figure.get("latency"),
                memory_bytes=figure.get("memory"),
                pareto=cand.id in pareto_ids,
                flags=flags,
                fits_as=fits_as,
                evidence=figure.get("quality"),
                downloads_as_of=_as_of(record.provenance.get("downloads"), synced.get(cand.id))
                if record.downloads is not None
                else None,
                params_basis=record.provenance.get("params") if record.params else None,
            )
        )
    excluded.update(slo_removed)
    suggestion = _sibling_hint(task_id, everything, clauses, [item[4] for item in scored], c) if hint else None
    unique: dict[str, Unverifiable] = {}
    for entry in unverifiable:
        unique.setdefault(entry.id, entry)
    ordered = list(unique.values())
    if ordered:
        rank_of = {cand.id: (not cand.curated, -(cand.downloads or 0), cand.id) for cand in candidates}
        ordered.sort(key=lambda u: rank_of.get(u.id, (True, 0, u.id)))
    return Recommendations(
        task=task_id,
        items=items,
        considered=considered,
        excluded={k: v for k, v in excluded.items() if v},
        profile=profile,
        weights=weights,
        unverifiable=ordered[:20],
        unverifiable_total=len(ordered),
        suggestion=suggestion,
        matched=matched,
        empty_reason=empty_reason,
    )


def _mask(clauses: list[tuple[str, str]], keep: Any) -> int:
    """The bits (as in _Candidate.failed) of the clauses whose label `keep` accepts."""
    return sum(1 << bit for bit, (label, _) in enumerate(clauses) if keep(label))


def _latencies(candidates: Sequence[_Candidate], measured: Mapping[str, Mapping[str, Any]], estimator: Any
               ) -> dict[str, float]:  # fmt: skip
    """Every candidate's latency value, where it has one: measured here (the run matching the request), else the
    cost model's estimate, one look-up per candidate (the same values _Figures.latency shows)."""
    found: dict[str, float] = {}
    wanted: list[_Candidate] = []
    for cand in candidates:
        run = measured.get(cand.id) if measured else None
        if run and run.get("p50"):
            found[cand.id] = run["p50"]
        elif cand.params and not cand.api_only:
            wanted.append(cand)
    values = estimator.latencies([(cand.params, cand.family) for cand in wanted])
    for cand, value in zip(wanted, values, strict=True):
        if value is not None:
            found[cand.id] = value
    return found


class _Figures:
    """The Figures of one candidate (value, kind and basis), built for the rows shown and the few the Pareto
    frontier reads, never for every candidate."""

    def __init__(self, c: Constraints, measured: Mapping[str, Mapping[str, Any]], estimator: Any) -> None:
        self.c, self.measured, self.estimator = c, measured, estimator
        self.memory_limit = c.memory_limit()
        self._fits_as: dict[str, dict[str, Any] | None] = {}

    def latency(self, cand: _Candidate) -> Figure | None:
        from catalog.costmodel.catalog_figures import latency_estimate

        c, run = self.c, self.measured.get(cand.id)
        if run and run.get("p50"):
            label = RANDOM_WEIGHTS_LABEL if run.get("weights") == "random" else "measured here"
            return Figure(run["p50"], "measured", f"p50 {label}, batch {c.batch_size} x {c.seq_len} tokens, "
                          f"{run['device']} {run['dtype']} (run {run['run']})")  # fmt: skip
        if cand.params and not cand.api_only:
            estimate = latency_estimate(self.estimator, cand.params, cand.family)
            if estimate:
                return Figure(estimate[0], "estimated", estimate[1])
        return None

    def memory(self, cand: _Candidate) -> Figure | None:
        from catalog.costmodel.catalog_figures import memory_estimate

        c, run = self.c, self.measured.get(cand.id)
        if run and run.get("peak_mb"):
            label = RANDOM_WEIGHTS_LABEL if run.get("weights") == "random" else "measured here"
            basis = f"peak RSS {label}, batch {c.batch_size} x {c.seq_len} tokens, {run['device']} {run['dtype']}"
            return Figure(run["peak_mb"] * 2**20, "measured", f"{basis} (run {run['run']})")
        if cand.params and not cand.api_only:
            estimate = memory_estimate(self.estimator, cand.params, cand.family)
            if estimate:
                return Figure(estimate[0], "estimated", estimate[1])
        return None

    def fits_as(self, cand: _Candidate) -> dict[str, Any] | None:
        """--fits: the smaller dtype or quantisation a model too big as asked fits in (None: it fits, or nothing
        does; a measured peak within the limit says it fits)."""
        if cand.id not in self._fits_as:
            from catalog.costmodel.catalog_figures import fit_advice

            limit, advice = self.memory_limit, None
            if self.c.fits and limit and cand.params and not cand.api_only:
                peak_mb = self.measured.get(cand.id, {}).get("peak_mb")
                if not (peak_mb and peak_mb * 2**20 <= limit):
                    advice = fit_advice(self.estimator, limit, cand.params, cand.family, cand.architecture)
            self._fits_as[cand.id] = advice
        return self._fits_as[cand.id]

    def of(self, cand: _Candidate, latency: Mapping[str, float], quality: q.Quality) -> dict[str, Any]:
        """Everything shown for a row: latency, memory, accuracy (and its metric), fits_as, the quality record."""
        figure: dict[str, Any] = {"quality": quality}
        if cand.id in latency:
            figure["latency"] = self.latency(cand)
        memory = self.memory(cand)
        if memory is not None:
            figure["memory"] = memory
        accuracy = _accuracy_figure(quality)
        if accuracy is not None:
            figure["accuracy"] = accuracy
            figure["accuracy_metric"] = accuracy.metric or None
        fits_as = self.fits_as(cand)
        if fits_as is not None:
            figure["fits_as"] = fits_as
        return figure


def _synced_at(reader: Reader, ids: Sequence[str]) -> dict[str, datetime | None]:
    """When each model's row was last synced (the date of its downloads figure when the provenance names none)."""
    found: dict[str, datetime | None] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        rows = reader.all("SELECT id, synced_at FROM models WHERE id IN :ids", {"ids": chunk})
        found.update((model_id, as_datetime(synced)) for model_id, synced in rows)
    return found


def _metric_label(name: str) -> str:
    from catalog.evidence.registry import registry

    spec = registry().metrics.get(name)
    return spec.label if spec else name


def _accuracy_figure(quality: q.Quality) -> AccuracyFigure | None:
    """The figure shown for a model: its headline result (measured here first), else an on-task figure nobody else
    can be compared with, else its prior."""
    used = quality.headline
    shown = quality.shown
    if (
        shown is not None
        and shown.source_kind == q.MEASURED_KIND
        and (used is None or used.item.source_kind != q.MEASURED_KIND)
    ):
        used = None  # a result measured here is shown first, even with nothing to compare it with
    item = used.item if used else shown
    if item is None:
        if quality.basis == "prior":
            return AccuracyFigure(quality.value, "prior", quality.prior or "", source="prior", compared=False,
                                  standing=quality.value)  # fmt: skip
        return None
    aggregate = used is not None and len(used.items) > 1
    value = used.value if used else item.value
    metric = used.metric if used else item.metric
    benchmark = used.benchmark if used else (quality.shown_on or item.dataset)
    kind = "measured" if item.source_kind == q.MEASURED_KIND else "reported"
    what = f"mean of {len(used.items)} tasks" if used and aggregate else item.describe()
    if used:
        basis = f"{what}; standing {used.standing:.2f} among {used.compared} candidates on {used.benchmark}"
    else:
        basis = f"{what}; no other candidate has a comparable figure"
    return AccuracyFigure(
        value=value, kind=kind, basis=basis, metric=metric,
        label="" if aggregate else ((used.label if used else quality.shown_label) or _metric_label(metric)),
        benchmark=benchmark, source=item.source_kind, source_name=item.source_name,
        date=item.source_date.date().isoformat() if item.source_date else None,
        verified=all(i.verified for i in used.items) if used else item.verified,
        higher_is_better=used.higher_is_better if used else item.higher_is_better, compared=used is not None,
        standing=quality.value if quality.basis == "evidence" else None,
    )  # fmt: skip


def _score_all(
    candidates: Sequence[_Candidate], latency: Mapping[str, float], quality: Mapping[str, q.Quality],
    weights: Mapping[str, float], task_id: str, now: datetime,
) -> list[_Scored]:  # fmt: skip
    """Every candidate's component values (COMPONENTS order: popularity, recency, accuracy, size, latency, curated,
    specialised), score (their weighted sum, added in that order) and place in the order, in one pass of plain
    arithmetic: Figures and components are built for the rows shown only.

    The normalisers are taken over the candidates (downloads, likes and size), and over every candidate with a
    latency figure that passed the hard constraints (latency)."""
    log, log1p = math.log, math.log1p
    downloads = [log1p(cand.downloads or 0) for cand in candidates]
    likes = [log1p(cand.likes or 0) for cand in candidates]
    best_downloads, best_likes = max(downloads, default=0.0), max(likes, default=0.0)
    sizes = [log(cand.params) for cand in candidates if cand.params]
    small, large = (min(sizes), max(sizes)) if sizes else (0.0, 0.0)
    latencies = [log(value) for value in latency.values() if value > 0]
    fast, slow = (min(latencies), max(latencies)) if latencies else (0.0, 0.0)
    size_span, latency_span = large - small, slow - fast
    w_pop, w_rec, w_acc, w_size, w_lat, w_cur, w_spec = (weights[name] for name in COMPONENTS)
    assessed, timed = quality.get, latency.get
    out: list[_Scored] = []
    append = out.append
    for cand, pop, liked in zip(candidates, downloads, likes, strict=True):
        model_id, tag, params, hub_downloads, _, is_curated, _, _, stamp, _, _, _, _ = cand
        pop = pop / best_downloads if best_downloads > 0 else 0.0
        if best_likes > 0:
            pop = 0.8 * pop + 0.2 * (liked / best_likes)
        if stamp is not None:
            days = (now - stamp).days
            recency = 0.5 ** ((days if days > 0 else 0) / 365.0)
        else:
            recency = 0.0
        found = assessed(model_id) if quality else None
        acc = found.value if found is not None else 0.0
        size = ((large - log(params)) / size_span if large > small else 1.0) if params else 0.0
        value = timed(model_id, -1.0)
        lat = ((slow - log(value)) / latency_span if slow > fast else 1.0) if value > 0 else 0.0
        curated = 1.0 if is_curated else 0.0
        specialised = 1.0 if tag == task_id else 0.0
        score = (w_pop * pop + w_rec * recency + w_acc * acc + w_size * size + w_lat * lat + w_cur * curated
                 + w_spec * specialised)  # fmt: skip
        append((-round(score, 12), -(hub_downloads or 0), model_id, score, cand,
                (pop, recency, acc, size, lat, curated, specialised)))  # fmt: skip
    return out


def _as_of(label: str | None, synced_at: datetime | None) -> str | None:
    """The date a Hub figure is from: the one its provenance names (a snapshot's date), else the sync's."""
    import re

    found = re.search(r"\d{4}-\d{2}-\d{2}", label or "")
    if found:
        return found.group(0)
    return synced_at.date().isoformat() if synced_at else None


def _components(
    cand: _Candidate, values: tuple[float, ...], f: dict[str, Any], weights: dict[str, float], record: ModelRecord,
    synced_at: datetime | None,
) -> list[Component]:  # fmt: skip
    pop, recency, acc_value, size, lat_value, curated, specialised = values
    accuracy: AccuracyFigure | None = f.get("accuracy")
    quality: q.Quality | None = f.get("quality")
    if quality is not None and quality.basis == "prior":
        acc_raw, acc_prov = f"prior {acc_value:.2f} (no direct evidence)", f"prior: {quality.prior}"
    elif accuracy is not None and quality is not None and quality.basis == "evidence":
        over = f" over {len(quality.benchmarks)} benchmarks" if len(quality.benchmarks) > 1 else ""
        dated = (
            f" ({'measured' if accuracy.kind == 'measured' else 'reported'} {accuracy.date})" if accuracy.date else ""
        )
        acc_raw = f"{accuracy.cell()}{dated}; standing {quality.value:.2f}{over}"
        acc_prov = (
            f"{accuracy.kind}: {accuracy.source_name}"
            + (f", {accuracy.date}" if accuracy.date else "")
            + (", verified" if accuracy.verified else ", self-reported")
        )
    elif accuracy is not None:
        acc_raw, acc_prov = f"{accuracy.cell()}: nothing comparable", f"{accuracy.kind}: {accuracy.basis}"
    else:
        acc_raw, acc_prov = "no accuracy figure", "none"
    latency = f.get("latency")
    if latency is not None and latency.value > 0:
        from catalog.output import human_duration

        lat_raw = f"{human_duration(latency.value)} {'here' if latency.kind == 'measured' else 'est.'}"
        lat_prov = f"{latency.kind}: {latency.basis}"
    else:
        lat_raw, lat_prov = "no latency figure", "none"
    downloads = cand.downloads
    as_of = _as_of(record.provenance.get("downloads"), synced_at)
    params_basis = record.provenance.get("params") or "Hub / catalog.yaml"
    return [
        Component("popularity", weights["popularity"], pop,
                  (f"{_humanize(downloads)} downloads/30d" + (f" as of {as_of}" if as_of else ""))
                  if downloads is not None else "downloads unknown",
                  record.provenance.get("downloads") or "reported: Hub downloads (30 days)"
                  if downloads is not None else "none"),
        Component("recency", weights["recency"], recency,
                  f"updated {cand.stamp.date().isoformat()}" if cand.stamp else "no date",
                  "reported: Hub lastModified" if cand.stamp else "none"),
        Component("accuracy", weights["accuracy"], acc_value, acc_raw, acc_prov),
        Component("size", weights["size"], size,
                  f"{_humanize(cand.params)} params" if cand.params else "size unknown",
                  f"parameter count: {params_basis}" if cand.params else "none"),
        Component("latency", weights["latency"], lat_value, lat_raw, lat_prov),
        Component("curated", weights["curated"], curated, "curated" if curated else "not curated", "catalog.yaml"),
        Component("specialised", weights["specialised"], specialised,
                  f"made for {cand.pipeline_tag}" if cand.pipeline_tag else "no pipeline tag",
                  "Hub pipeline tag" if cand.pipeline_tag else "none"),
    ]  # fmt: skip


def _fits_as_text(fits_as: dict[str, Any]) -> str:
    """'fits only as int8 (est. 1.2 GiB of 3.0 GiB)': a --fits model that is too big at the dtype asked for."""
    memory = fits_as.get("memory_bytes")
    size = f"est. {memory / 2**30:.1f} GiB of {fits_as['limit_bytes'] / 2**30:.1f} GiB" if memory else "estimated"
    return f"fits only as {fits_as['label']} ({size})"


def _why(components: list[Component], record: ModelRecord) -> str:
    strongest = sorted((c for c in components if c.contribution > 0), key=lambda c: -c.contribution)[:3]
    parts = [c.raw for c in strongest] or ["matches the task"]
    if record.base_model:
        parts.append(f"fine-tuned from {record.base_model}")
    return "; ".join(parts)


def _pareto(
    candidates: Mapping[str, _Candidate], latency: Mapping[str, float], quality: Mapping[str, q.Quality],
    figures: _Figures,
) -> set[str]:  # fmt: skip
    """Non-dominated models on (accuracy up, latency down, memory down), among those with all three figures. Accuracy
    is the evidence standing (comparable across candidates), never raw values of different metrics: only models
    with evidence are points, so memory is estimated for those alone."""
    points = []
    for model_id, found in quality.items():
        if found.basis == "evidence" and model_id in latency:
            memory = figures.memory(candidates[model_id])
            if memory is not None:
                points.append((model_id, found.value, latency[model_id], memory.value))
    frontier = set()
    for pid, acc, lat, mem in points:
        dominated = any(
            (a >= acc and l_ <= lat and m <= mem) and (a > acc or l_ < lat or m < mem)
            for other, a, l_, m in points
            if other != pid
        )
        if not dominated:
            frontier.add(pid)
    return frontier


def _empty_message(
    task_id: str,
    everything: list[_Candidate],
    clauses: list[tuple[str, str]],
    slo_removed: dict[str, int],
    considered: int,
    matched_hard: int,
) -> str:
    """Why no model is left: how many of the task's models each constraint removes on its own."""
    if considered == 0:
        return f"No models for {task_id} yet — run `catalog sync --task {task_id}` (or import a snapshot)."
    counts = {label: sum(1 for cand in everything if cand.failed >> bit & 1) for bit, (label, _) in enumerate(clauses)}
    parts = [f"{label} removed {n} of {considered}" for label, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n]
    parts += [f"{label} removed {n} of {matched_hard}" for label, n in slo_removed.items() if n]
    return f"0 models for {task_id}: " + "; ".join(parts) + ". Loosen the constraint that removes the most."


def _sibling_hint(
    task_id: str,
    everything: list[_Candidate],
    clauses: list[tuple[str, str]],
    ordered: list[_Candidate],
    c: Constraints,
) -> str | None:
    """When the pick without the user's constraints does not fit, point at a smaller model of its lineage that does.
    The pick: of the task's models that only the API-only and gated defaults allow, the curated, then the most
    downloaded, then the first by id."""
    defaults = _mask(clauses, lambda label: label.startswith(("API-only", "gated")))
    if defaults == _mask(clauses, lambda label: True):
        return None
    allowed = [cand for cand in everything if not cand.failed & defaults]
    if not allowed:
        return None
    pick = min(allowed, key=lambda cand: (not cand.curated, cand.downloads is None, -(cand.downloads or 0), cand.id))
    ranked = {cand.id: rank for rank, cand in enumerate(ordered, start=1)}
    if pick.id in ranked:
        return None
    lineage = {pick.id, pick.base_model} - {None}
    for rank, cand in enumerate(ordered, start=1):
        related = (
            cand.base_model in lineage or cand.id in lineage or (pick.family is not None and cand.family == pick.family)
        )
        if related:
            how = (
                "same lineage" if (cand.base_model in lineage or cand.id in lineage) else f"same family ({cand.family})"
            )
            size = f", {_humanize(cand.params)} params" if cand.params else ""
            return (
                f"The most popular {task_id} model, {pick.id}, does not meet {', '.join(c.describe())}; "
                f"{cand.id} ({how}{size}) does and ranks #{rank}."
            )
    return f"The most popular {task_id} model, {pick.id}, does not meet {', '.join(c.describe())}."


# ------------------------------------------------------------------------------------------------ explain


@dataclass(frozen=True)
class Explanation:
    model: str
    task: str
    profile: str
    score: float | None
    rank: int | None
    components: list[Component]
    excluded_by: list[str]
    figures: dict[str, Any]
    base_model: str | None
    evidence: q.Quality | None = None
    off_task: list[q.Ignored] = field(default_factory=list)  # the model's results for other tasks

    def evidence_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(every row used, with its benchmark and standing; every row ignored, with the reason)."""
        used: list[dict[str, Any]] = []
        ignored: list[dict[str, Any]] = []
        if self.evidence is not None:
            for u in self.evidence.used:
                for item in u.items:
                    extra = {"benchmark": u.benchmark, "standing": round(u.standing, 4),
                             "compared_with": u.compared - 1,
                             "aggregate_of": len(u.items) if len(u.items) > 1 else None,
                             "note": self.evidence.notes.get(item.key)}  # fmt: skip
                    used.append(_row_dict(item) | extra)
            ignored += [_row_dict(i.item) | {"reason": i.reason} for i in self.evidence.ignored]
        ignored += [_row_dict(i.item) | {"reason": i.reason} for i in self.off_task]
        return used, ignored

    def to_dict(self) -> dict[str, Any]:
        used, ignored = self.evidence_rows()
        quality = self.evidence
        return {
            "model": self.model,
            "task": self.task,
            "profile": self.profile,
            "score": self.score,
            "rank": self.rank,
            "components": [asdict(c) | {"contribution": c.contribution} for c in self.components],
            "excluded_by": self.excluded_by,
            "figures": self.figures,
            "base_model": self.base_model,
            "accuracy_basis": quality.basis if quality else None,  # evidence | prior | none
            "prior": quality.prior if quality else None,
            "partial_coverage": quality.partial if quality else [],
            "evidence_used": used,
            "evidence_ignored": ignored,
        }


def _row_dict(item: q.EvidenceItem) -> dict[str, Any]:
    return {
        "row": item.key, "value": item.value, "metric": item.metric, "higher_is_better": item.higher_is_better,
        "dataset": item.dataset, "config": item.dataset_config, "split": item.split, "n_shot": item.shots,
        "protocol": item.variant, "source": item.source_kind, "source_name": item.source_name,
        "date": item.source_date.date().isoformat() if item.source_date else None, "verified": item.verified,
        "published_as": item.published_as,
    }  # fmt: skip


def explain(model_id: str, task: str, *, db: Database | str | None = None, **options: Any) -> Explanation:
    """The full breakdown of one model's score for a task, or which constraints exclude it."""
    from catalog.db.engine import Database, open_database

    database = db if isinstance(db, Database) else open_database(db)
    try:
        options = dict(options)
        options.pop("limit", None)
        options.pop("pareto_only", None)
        with reading(database) as reader:
            found = first(reader, "SELECT base_model FROM models WHERE id = :id", {"id": model_id})
        if found is None:
            from catalog.queries import get_model

            get_model(database, model_id)  # raises UnknownModelError with suggestions
            raise AssertionError(f"{model_id} disappeared while it was being explained")
        base_model = found[0]
        try:
            result = recommend(task, limit=0, db=database, **options)
        except NoMatchError:
            result = None
        item = next((r for r in result.items if r.model.id == model_id), None) if result else None
        excluded_by: list[str] = []
        if item is None:
            excluded_by = _why_excluded(database, model_id, task, options)
        return Explanation(
            model=model_id,
            task=result.task if result else task,
            profile=options.get("profile", "balanced"),
            score=item.score if item else None,
            rank=item.rank if item else None,
            components=item.components if item else [],
            excluded_by=excluded_by,
            figures={
                "accuracy": item.accuracy.to_dict() if item and item.accuracy else None,
                "latency_ms": item.latency_ms.to_dict() if item and item.latency_ms else None,
                "memory_bytes": item.memory_bytes.to_dict() if item and item.memory_bytes else None,
                "fits_as": item.fits_as if item else None,
            },
            base_model=base_model,
            evidence=item.evidence if item else None,
            off_task=_off_task(database, model_id, result.task if result else task),
        )
    finally:
        if database is not db:
            database.dispose()


def _off_task(database: Database, model_id: str, task: str) -> list[q.Ignored]:
    """The model's results that the task's evidence query does not bring back: other tasks' figures."""
    from catalog.evidence.benchmarks import benchmark_datasets
    from catalog.evidence.query import evidence_for_model, task_benchmarks

    with database.connect() as conn:
        task_id = resolve_task(conn, task)
        datasets = benchmark_datasets(task_benchmarks(conn, task_id))  # the rows the task's query reads
        return [
            q.Ignored(_row_item(r), f"off-task: measures {r.task_id}" if r.task_id and r.task_id != task_id
                      else "not on one of the task's benchmarks (catalog.yaml)")
            for r in evidence_for_model(conn, model_id)
            if r.task_id != task_id and r.dataset.lower() not in datasets
        ]  # fmt: skip


def _why_excluded(database: Database, model_id: str, task: str, options: dict[str, Any]) -> list[str]:
    with reading(database) as reader:
        task_id = resolve_task(reader, task)
        c = _constraints(task, options)
        reasons = []
        in_task = scalar(reader, "SELECT model_id FROM model_tasks WHERE task_id = :task AND model_id = :id",
                         {"task": task_id, "id": model_id})  # fmt: skip
        if in_task is None:
            reasons.append(f"not a {task_id} model")
        clauses = _clauses(reader, c, set())
        for label, clause in clauses:
            found = scalar(reader, f"SELECT count(*) FROM models WHERE models.id = :id AND {clause}",
                           clauses.params | {"id": model_id})  # fmt: skip
            if found == 0:
                reasons.append(label)
        if not reasons:
            reasons.append("a service target (--max-latency-ms / --min-accuracy) or the Pareto filter")
        return reasons


_ = COMPONENTS  # re-exported for callers and tests
