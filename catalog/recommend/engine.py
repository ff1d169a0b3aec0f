"""The recommender: hard constraints in SQL (indexed), then explained scores, service targets, the Pareto
frontier and lineage hints in Python over the candidates' few scalar columns. Full records are loaded only for
the rows shown, so a task with tens of thousands of models still answers quickly."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.engine import Connection

from catalog.db.engine import Database, open_database
from catalog.db.schema import benchmark_results, benchmark_runs, model_languages, model_tasks, models, utcnow
from catalog.db.schema import reported_metrics as reported_table
from catalog.db.schema import tasks as tasks_table
from catalog.errors import CatalogError, UnknownLanguageError, UnknownLicenseError, UsageError
from catalog.queries import first_column, model_records, resolve_architecture, resolve_family, resolve_task
from catalog.recommend.constraints import MEMORY_OVERHEAD, Constraints, license_classes, license_known
from catalog.recommend.scoring import COMPONENTS, LOWER_IS_BETTER, PROFILES, as_fraction, profile_weights
from catalog.records import ModelRecord

DEFAULT_WEIGHTS: Mapping[str, float] = PROFILES["balanced"]
ASSUMED_GFLOPS_PER_CORE = 50.0  # only when `catalog hardware --calibrate` has not measured this machine
EFFICIENCY = 0.75  # share of the fp32 matmul peak an eager forward pass reaches (measured: bert-base 75-85%)


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
            "accuracy": self.accuracy.to_dict() if self.accuracy else None,
            "accuracy_metric": self.accuracy_metric,
            "latency_ms": self.latency_ms.to_dict() if self.latency_ms else None,
            "memory_bytes": self.memory_bytes.to_dict() if self.memory_bytes else None,
            "pareto": self.pareto,
            "base_model": m.base_model,
            "api_only": m.api_only,
            "gated": m.gated,
            "flags": self.flags,
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


def _machine_id_and_peak() -> tuple[str | None, float | None, str]:
    """This machine's id (to find its benchmark results) and calibrated fp32 matmul GFLOP/s, when known."""
    try:
        from catalog import hardware

        facts = hardware.fingerprint()
        machine = str(facts["machine_id"])
    except Exception:  # the probe must never break a recommendation
        return None, None, ""
    try:
        cached = hardware.cached_peaks("cpu")
        peak = float(cached["gflops"]["float32"]) if cached else None
    except Exception:
        peak = None
    basis = f"the calibrated fp32 matmul peak, {peak:.0f} GFLOP/s" if peak else ""
    return machine, peak, basis


def _measured_accuracy(metric: str | None, metrics: dict[str, Any]) -> float | None:
    """The headline metric as a fraction (higher is better); None for lower-is-better metrics like perplexity."""
    if not metric or metric not in metrics or metrics[metric] is None:
        return None
    return as_fraction(metric, float(metrics[metric]), "raw")


def _measured(conn: Connection, task_id: str, machine: str | None, batch: int, seq: int) -> dict[str, dict[str, Any]]:
    """What benchmark runs on this machine measured per model for this task: latency and peak memory at the asked
    shape (latest run), and accuracy on labelled data at any shape (latest run that measured it)."""
    if machine is None:
        return {}
    results, runs = benchmark_results.c, benchmark_runs.c
    rows = conn.execute(
        select(results.model_id, results.batch_size, results.seq_len, results.latency_p50_ms,
               results.peak_rss_infer_mb, results.weights, results.primary_metric, results.metrics, results.eval_set,
               results.run_id)
        .join(benchmark_runs, runs.id == results.run_id)
        .where(runs.machine_id == machine, results.status == "ok",
               or_(results.task_id == task_id, results.task_id.is_(None)))
        .order_by(results.id)
    ).all()  # fmt: skip
    found: dict[str, dict[str, Any]] = {}
    for result in rows:
        run_id = result.run_id
        entry = found.setdefault(result.model_id, {})
        if result.batch_size == batch and result.seq_len == seq and result.latency_p50_ms:
            entry.update(p50=result.latency_p50_ms, peak_mb=result.peak_rss_infer_mb, run=run_id,
                         weights=result.weights)  # fmt: skip
        accuracy = _measured_accuracy(result.primary_metric, result.metrics or {})
        if accuracy is not None and result.weights != "random":
            entry.update(accuracy=accuracy, accuracy_metric=result.primary_metric, eval_set=result.eval_set,
                         accuracy_run=run_id)  # fmt: skip
    return {model: entry for model, entry in found.items() if entry}


def _candidate_columns() -> tuple[Any, ...]:
    """The few scalar columns ranking needs, in _Candidate's field order."""
    m = models.c
    return (m.id, m.pipeline_tag, m.params, m.license, m.downloads, m.likes, m.curated, m.api_only,
            func.coalesce(m.hub_last_modified, m.hub_created_at), m.base_model, m.family_id)  # fmt: skip


@dataclass
class _Candidate:
    id: str
    pipeline_tag: str | None
    params: int | None
    license: str | None
    downloads: int | None
    likes: int | None
    curated: bool
    api_only: bool
    stamp: datetime | None
    base_model: str | None
    family: str | None


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
    min_accuracy: float | None = None,
    pareto_only: bool = False,
    db: Database | None = None,
) -> Recommendations:
    """Ranked, explained models for `task` (an id or alias) under the given constraints, best first."""
    if limit < 0:
        raise UsageError(f"--limit must be 0 (all) or a positive number, not {limit}.")
    if permissive and commercial_ok:
        raise UsageError("Choose one of --permissive and --commercial-ok.")
    constraints = _constraints(
        task,
        dict(license=license, permissive=permissive, commercial_ok=commercial_ok, language=language,
             max_params=max_params, max_memory=max_memory, fits=fits, dtype=dtype, architecture=architecture,
             family=family, library=library, include_api=include_api, include_gated=include_gated,
             max_latency_ms=max_latency_ms, batch_size=batch_size, seq_len=seq_len, min_accuracy=min_accuracy),
    )  # fmt: skip
    chosen = profile_weights(profile, weights)
    database = db or open_database()
    try:
        with database.connect() as conn:
            return _recommend(conn, constraints, chosen, profile, limit, pareto_only)
    finally:
        if db is None:
            database.dispose()


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
        min_accuracy=options.get("min_accuracy"),
        machine_memory_bytes=_machine_memory_bytes() if options.get("fits") else None,
    )  # fmt: skip


def _clauses(conn: Connection, c: Constraints, measured_ids: set[str]) -> list[tuple[str, ColumnElement[bool]]]:
    """(label, SQL condition) per constraint, labelled as the user typed it."""
    clauses: list[tuple[str, ColumnElement[bool]]] = []
    if not c.include_api:
        clauses.append(("API-only models (add --include-api)", models.c.api_only.is_(False)))
    if not c.include_gated:
        clauses.append(("gated models (add --include-gated)", models.c.gated.is_(False)))
    if c.licenses:
        known = set(first_column(conn, select(models.c.license).distinct())) | set(license_classes()["commercial-ok"])
        for name in c.licenses:
            if name not in known:
                raise UnknownLicenseError(name, [k for k in known if k])
        clauses.append((f"--license {','.join(c.licenses)}", models.c.license.in_(c.licenses)))
    if c.license_class:
        allowed = sorted(license_classes()[c.license_class])
        clauses.append((f"--{c.license_class}", models.c.license.in_(allowed)))
    for code in c.languages:
        exists = conn.scalar(select(model_languages.c.model_id).where(model_languages.c.language == code).limit(1))
        if exists is None:
            from catalog.hub.derive import _language_codes

            if code not in _language_codes():
                listed = first_column(conn, select(model_languages.c.language).distinct())
                known_languages = {str(x) for x in listed if x}
                raise UnknownLanguageError(code, known_languages | set(_language_codes()))
        subquery = select(model_languages.c.model_id).where(model_languages.c.language == code)
        clauses.append((f"--language {code}", models.c.id.in_(subquery)))
    if c.max_params:
        clauses.append((f"--max-params {_humanize(c.max_params)}", models.c.params <= c.max_params))
    limit = c.memory_limit()
    if limit:
        label = (f"--max-memory {limit / 2**30:.1f}GiB" if not c.fits or (c.max_memory_bytes and c.max_memory_bytes
                 <= (c.machine_memory_bytes or 0)) else f"--fits ({limit / 2**30:.1f}GiB usable here)")  # fmt: skip
        estimate_ok = models.c.params <= int(limit / c.memory_factor)
        clauses.append((label, or_(estimate_ok, models.c.id.in_(measured_ids)) if measured_ids else estimate_ok))
    if c.architecture:
        clauses.append((f"--architecture {c.architecture}", models.c.architecture_id == c.architecture))
    if c.family:
        clauses.append((f"--family {c.family}", models.c.family_id == c.family))
    if c.library:
        clauses.append((f"--library {c.library}", func.lower(models.c.library) == c.library.lower()))
    return clauses


def _recommend(
    conn: Connection, c: Constraints, weights: dict[str, float], profile: str, limit: int, pareto_only: bool
) -> Recommendations:
    task_id = resolve_task(conn, c.task)
    if c.architecture:
        c.architecture = resolve_architecture(conn, c.architecture)
    if c.family:
        c.family = resolve_family(conn, c.family)
    machine, peak_gflops, peak_basis = _machine_id_and_peak()
    measured = _measured(conn, task_id, machine, c.batch_size, c.seq_len)
    clauses = _clauses(conn, c, {m for m, r in measured.items() if r.get("peak_mb")})
    in_task = models.c.id.in_(select(model_tasks.c.model_id).where(model_tasks.c.task_id == task_id))
    condition = and_(in_task, *[clause for _, clause in clauses]) if clauses else in_task
    columns = _candidate_columns()
    # Core rows, not ORM loading: tens of thousands of candidates cost little this way.
    candidates = [_Candidate(*row) for row in conn.execute(select(*columns).where(condition))]
    excluded, considered = _exclusion_counts(conn, in_task, clauses)

    # Models that pass every other constraint but have no parameter count cannot be checked against size limits.
    unverifiable: list[Unverifiable] = []
    size_labels = [label for label, _ in clauses if label.startswith(("--max-params", "--max-memory", "--fits"))]
    if size_labels:
        others = [clause for label, clause in clauses if label not in size_labels]
        no_params = first_column(
            conn,
            select(models.c.id)
            .where(in_task, models.c.params.is_(None), *others)
            .order_by(models.c.downloads.desc().nulls_last())
            .limit(20),
        )
        unverifiable += [Unverifiable(i, f"no parameter count to check {', '.join(size_labels)}") for i in no_params]

    reported = _reported(conn, task_id, {cand.id for cand in candidates})
    task_metrics = list(conn.execute(select(tasks_table.c.metrics).where(tasks_table.c.id == task_id)).scalar_one())
    now = utcnow()
    import os

    assumed = ASSUMED_GFLOPS_PER_CORE * (os.cpu_count() or 1)
    gflops = peak_gflops or assumed
    gflops_basis = peak_basis or (
        f"an assumed {assumed:.0f} GFLOP/s peak ({ASSUMED_GFLOPS_PER_CORE:.0f} per core; "
        "`catalog hardware --calibrate` measures it)"
    )

    # Figures per candidate --------------------------------------------------------------------------------
    latency_basis = f"2 x params x {c.batch_size * c.seq_len} tokens at {EFFICIENCY:.0%} of {gflops_basis}"
    memory_basis = f"{c.dtype} weights + {MEMORY_OVERHEAD:.0%} overhead"
    ms_per_param = 2.0 * c.batch_size * c.seq_len / (gflops * 1e9 * EFFICIENCY) * 1000
    figures: dict[str, dict[str, Any]] = {}
    for cand in candidates:
        figure: dict[str, Any] = {}
        run = measured.get(cand.id)
        if run and run.get("p50"):
            weights_note = ", random weights" if run.get("weights") == "random" else ""
            figure["latency"] = Figure(run["p50"], "measured", f"p50 here, batch {c.batch_size} x {c.seq_len} tokens "
                                                              f"(run {run['run']}{weights_note})")  # fmt: skip
        elif cand.params and not cand.api_only:
            figure["latency"] = Figure(cand.params * ms_per_param, "estimated", latency_basis)
        if run and run.get("peak_mb"):
            figure["memory"] = Figure(run["peak_mb"] * 2**20, "measured", f"peak RSS here (run {run['run']})")
        elif cand.params and not cand.api_only:
            figure["memory"] = Figure(cand.params * c.memory_factor, "estimated", memory_basis)
        if run and run.get("accuracy") is not None:
            figure["accuracy"] = Figure(
                float(run["accuracy"]),
                "measured",
                f"{run.get('accuracy_metric')} on {run.get('eval_set')} here (run {run['accuracy_run']})",
            )
            figure["accuracy_metric"] = run.get("accuracy_metric")
        elif cand.id in reported:
            metric = _pick_metric(reported[cand.id], task_metrics)
            figure["accuracy_raw"] = metric
            fraction = as_fraction(metric["metric"], metric["value"], metric["scale"])
            if fraction is not None:
                figure["accuracy"] = Figure(fraction, "reported", f"{metric['metric']} on {metric['dataset']} "
                                                                  f"({metric['source']})")  # fmt: skip
                figure["accuracy_metric"] = metric["metric"]
        figures[cand.id] = figure

    # Service targets ----------------------------------------------------------------------------------------
    slo_removed: dict[str, int] = {}
    kept: list[_Candidate] = []
    for cand in candidates:
        figure = figures[cand.id]
        if c.max_latency_ms is not None:
            latency = figure.get("latency")
            if latency is None:
                reason = "API-only: no latency figure" if cand.api_only else "no parameter count for a latency estimate"
                unverifiable.append(Unverifiable(cand.id, reason))
                continue
            if latency.value > c.max_latency_ms:
                slo_removed[f"--max-latency-ms {c.max_latency_ms:g}"] = (
                    slo_removed.get(f"--max-latency-ms {c.max_latency_ms:g}", 0) + 1
                )
                continue
        memory_limit = c.memory_limit()
        peak_mb = measured.get(cand.id, {}).get("peak_mb")
        if memory_limit and peak_mb and peak_mb * 2**20 > memory_limit:
            slo_removed["memory (measured peak)"] = slo_removed.get("memory (measured peak)", 0) + 1
            continue
        if c.min_accuracy is not None:
            accuracy = figure.get("accuracy")
            if accuracy is None:
                unverifiable.append(Unverifiable(cand.id, "no accuracy figure for this task"))
                continue
            if accuracy.value < c.min_accuracy:
                slo_removed[f"--min-accuracy {c.min_accuracy:g}"] = (
                    slo_removed.get(f"--min-accuracy {c.min_accuracy:g}", 0) + 1
                )
                continue
        kept.append(cand)

    scored, scales = _score_all(kept, figures, weights, task_id, now)
    scored.sort(key=lambda item: (-round(item[0], 12), -(item[1].downloads or 0), item[1].id))
    pareto_ids = _pareto(kept, figures)
    if pareto_only:
        scored = [item for item in scored if item[1].id in pareto_ids]
    matched = len(scored)

    empty_reason = None
    if not scored:
        empty_reason = _empty_message(conn, task_id, in_task, clauses, slo_removed, considered, len(candidates))
        if unverifiable:
            count = len({u.id for u in unverifiable})
            empty_reason += f" ({count} models listed as not checked have no figure for a target.)"
        else:
            raise NoMatchError(empty_reason)

    shown = scored[:limit] if limit else scored
    records = model_records(conn, [cand.id for _, cand, _ in shown])
    items: list[Recommendation] = []
    for rank, (score, cand, values) in enumerate(shown, start=1):
        record = records[cand.id]
        figure = figures[cand.id]
        components = _components(cand, values, figure, scales, weights)
        flags = []
        if not license_known(record.license):
            flags.append(f"license {record.license or 'not stated'}: read the model card before use")
        if record.gated:
            flags.append("gated: accept the license on the Hub first")
        items.append(
            Recommendation(
                rank=rank,
                model=record,
                task=task_id,
                score=score,
                why=_why(components, record),
                components=components,
                accuracy=figure.get("accuracy"),
                accuracy_metric=figure.get("accuracy_metric"),
                latency_ms=figure.get("latency"),
                memory_bytes=figure.get("memory"),
                pareto=cand.id in pareto_ids,
                flags=flags,
            )
        )
    excluded.update(slo_removed)
    suggestion = _sibling_hint(conn, task_id, in_task, clauses, scored, weights, now, c) if c.describe() else None
    rank_of = {cand.id: (not cand.curated, -(cand.downloads or 0), cand.id) for cand in candidates}
    unique: dict[str, Unverifiable] = {}
    for entry in unverifiable:
        unique.setdefault(entry.id, entry)
    ordered = sorted(unique.values(), key=lambda u: rank_of.get(u.id, (True, 0, u.id)))
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


def _reported(conn: Connection, task_id: str, candidate_ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Reported metrics for the task (a small table), kept for the candidates."""
    rows = conn.execute(
        select(reported_table)
        .where(or_(reported_table.c.task_id == task_id, reported_table.c.task_id.is_(None)))
        .order_by(reported_table.c.id)
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r.model_id not in candidate_ids:
            continue
        found.setdefault(r.model_id, []).append(
            {
                "metric": r.metric,
                "value": r.value,
                "scale": r.scale,
                "dataset": r.dataset,
                "source": r.source,
                "verified": r.verified,
            }
        )
    return found


def _pick_metric(metrics: list[dict[str, Any]], task_metrics: list[str]) -> dict[str, Any]:
    """The task's own metric first (in the taxonomy's order), then the first higher-is-better one."""
    for name in task_metrics:
        for metric in metrics:
            if metric["metric"].lower() == name.lower():
                return metric
    for metric in metrics:
        if as_fraction(metric["metric"], metric["value"], metric["scale"]) is not None:
            return metric
    return metrics[0]


class _Scales:
    """Normalisers over the candidate set, computed once."""

    def __init__(self, candidates: list[_Candidate], figures: dict[str, dict[str, Any]]) -> None:
        self.best_downloads = max((math.log1p(c.downloads or 0) for c in candidates), default=0.0)
        self.best_likes = max((math.log1p(c.likes or 0) for c in candidates), default=0.0)
        sizes = [math.log(c.params) for c in candidates if c.params]
        self.small, self.large = (min(sizes), max(sizes)) if sizes else (0.0, 0.0)
        latencies = [
            math.log(f["latency"].value) for f in figures.values() if f.get("latency") and f["latency"].value > 0
        ]
        self.fast, self.slow = (min(latencies), max(latencies)) if latencies else (0.0, 0.0)
        # Lower-is-better reported metrics are ranked among the candidates that report the same metric.
        self.lower_ranks: dict[str, float] = {}
        by_metric: dict[str, list[tuple[float, str]]] = {}
        for cid, f in figures.items():
            raw = f.get("accuracy_raw")
            if raw and "accuracy" not in f and raw["metric"].lower() in LOWER_IS_BETTER:
                by_metric.setdefault(raw["metric"].lower(), []).append((raw["value"], cid))
        for entries in by_metric.values():
            entries.sort()
            for position, (_, cid) in enumerate(entries):
                self.lower_ranks[cid] = 1.0 - position / len(entries) if len(entries) > 1 else 1.0


def _values(cand: _Candidate, f: dict[str, Any], scales: _Scales, task_id: str, now: datetime) -> tuple[float, ...]:
    """Component values in COMPONENTS order: popularity, recency, accuracy, size, latency, curated, specialised."""
    pop = math.log1p(cand.downloads or 0) / scales.best_downloads if scales.best_downloads > 0 else 0.0
    if scales.best_likes > 0:
        pop = 0.8 * pop + 0.2 * (math.log1p(cand.likes or 0) / scales.best_likes)
    recency = 0.5 ** (max((now - cand.stamp).days, 0) / 365.0) if cand.stamp is not None else 0.0
    accuracy = f.get("accuracy")
    acc = accuracy.value if accuracy is not None else scales.lower_ranks.get(cand.id, 0.0)
    if cand.params and scales.large > scales.small:
        size = (scales.large - math.log(cand.params)) / (scales.large - scales.small)
    else:
        size = 1.0 if cand.params else 0.0
    latency = f.get("latency")
    if latency is not None and latency.value > 0:
        lat = (
            (scales.slow - math.log(latency.value)) / (scales.slow - scales.fast) if scales.slow > scales.fast else 1.0
        )
    else:
        lat = 0.0
    return (pop, recency, acc, size, lat, 1.0 if cand.curated else 0.0, 1.0 if cand.pipeline_tag == task_id else 0.0)


def _score_all(
    candidates: list[_Candidate], figures: dict[str, dict[str, Any]], weights: dict[str, float], task_id: str,
    now: datetime,
) -> tuple[list[tuple[float, _Candidate, tuple[float, ...]]], _Scales]:  # fmt: skip
    """Numbers only (cheap for tens of thousands of candidates); components are built for the rows shown."""
    scales = _Scales(candidates, figures)
    w = [weights[name] for name in COMPONENTS]
    out = []
    for cand in candidates:
        values = _values(cand, figures[cand.id], scales, task_id, now)
        out.append((sum(a * b for a, b in zip(w, values, strict=True)), cand, values))
    return out, scales


def _components(
    cand: _Candidate, values: tuple[float, ...], f: dict[str, Any], scales: _Scales, weights: dict[str, float]
) -> list[Component]:
    pop, recency, acc_value, size, lat_value, curated, specialised = values
    accuracy = f.get("accuracy")
    if accuracy is not None:
        acc_raw = (
            f"{'here' if accuracy.kind == 'measured' else 'card'}: {f.get('accuracy_metric')} {accuracy.value:.3g}"
        )
        acc_prov = f"{accuracy.kind}: {accuracy.basis}"
    elif cand.id in scales.lower_ranks:
        raw = f["accuracy_raw"]
        acc_raw = f"card: {raw['metric']} {raw['value']:g} (lower is better; ranked)"
        acc_prov = f"reported: {raw['metric']} on {raw['dataset']} ({raw['source']})"
    else:
        acc_raw, acc_prov = "no accuracy figure", "none"
    latency = f.get("latency")
    if latency is not None and latency.value > 0:
        lat_raw = f"{latency.value:.3g} ms {'here' if latency.kind == 'measured' else 'est.'}"
        lat_prov = f"{latency.kind}: {latency.basis}"
    else:
        lat_raw, lat_prov = "no latency figure", "none"
    downloads = cand.downloads
    return [
        Component("popularity", weights["popularity"], pop,
                  f"{_humanize(downloads)} downloads/30d" if downloads is not None else "downloads unknown",
                  "reported: Hub downloads (30 days)" if downloads is not None else "none"),
        Component("recency", weights["recency"], recency,
                  f"updated {cand.stamp.date().isoformat()}" if cand.stamp else "no date",
                  "reported: Hub lastModified"),
        Component("accuracy", weights["accuracy"], acc_value, acc_raw, acc_prov),
        Component("size", weights["size"], size,
                  f"{_humanize(cand.params)} params" if cand.params else "size unknown",
                  "parameter count (see `catalog show`)" if cand.params else "none"),
        Component("latency", weights["latency"], lat_value, lat_raw, lat_prov),
        Component("curated", weights["curated"], curated, "curated" if curated else "not curated", "catalog.yaml"),
        Component("specialised", weights["specialised"], specialised,
                  f"made for {cand.pipeline_tag}" if cand.pipeline_tag else "no pipeline tag", "Hub pipeline tag"),
    ]  # fmt: skip


def _why(components: list[Component], record: ModelRecord) -> str:
    strongest = sorted((c for c in components if c.contribution > 0), key=lambda c: -c.contribution)[:3]
    parts = [c.raw for c in strongest] or ["matches the task"]
    if record.base_model:
        parts.append(f"fine-tuned from {record.base_model}")
    return "; ".join(parts)


def _pareto(candidates: list[_Candidate], figures: dict[str, dict[str, Any]]) -> set[str]:
    """Non-dominated models on (accuracy up, latency down, memory down), among those with all three figures."""
    points = []
    for cand in candidates:
        f = figures[cand.id]
        if f.get("accuracy") and f.get("latency") and f.get("memory"):
            points.append((cand.id, f["accuracy"].value, f["latency"].value, f["memory"].value))
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


def _exclusion_counts(
    conn: Connection, in_task: ColumnElement[bool], clauses: list[tuple[str, ColumnElement[bool]]]
) -> tuple[dict[str, int], int]:
    """How many of the task's models each constraint removes on its own, and how many the task has (one scan)."""
    from sqlalchemy import case

    sums = [func.sum(case((clause, 0), else_=1)) for _, clause in clauses]
    row = conn.execute(select(func.count(), *sums).select_from(models).where(in_task)).one()
    return {label: int(row[i + 1] or 0) for i, (label, _) in enumerate(clauses)}, int(row[0])


def _empty_message(
    conn: Connection,
    task_id: str,
    in_task: ColumnElement[bool],
    clauses: list[tuple[str, ColumnElement[bool]]],
    slo_removed: dict[str, int],
    considered: int,
    matched_hard: int,
) -> str:
    if considered == 0:
        return f"No models for {task_id} yet — run `catalog sync --task {task_id}` (or import a snapshot)."
    counts, _ = _exclusion_counts(conn, in_task, clauses)
    parts = [f"{label} removed {n} of {considered}" for label, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n]
    parts += [f"{label} removed {n} of {matched_hard}" for label, n in slo_removed.items() if n]
    return f"0 models for {task_id}: " + "; ".join(parts) + ". Loosen the constraint that removes the most."


def _sibling_hint(
    conn: Connection,
    task_id: str,
    in_task: ColumnElement[bool],
    clauses: list[tuple[str, ColumnElement[bool]]],
    scored: list[tuple[float, _Candidate, tuple[float, ...]]],
    weights: dict[str, float],
    now: datetime,
    c: Constraints,
) -> str | None:
    """When the pick without the user's constraints does not fit, point at a smaller model of its lineage that does."""
    defaults = [clause for label, clause in clauses if label.startswith(("API-only", "gated"))]
    if len(defaults) == len(clauses):
        return None
    columns = _candidate_columns()
    top = conn.execute(
        select(*columns)
        .where(in_task, *defaults)
        .order_by(models.c.curated.desc(), models.c.downloads.desc().nulls_last(), models.c.id)
        .limit(1)
    ).first()
    if top is None:
        return None
    pick = _Candidate(*top)
    ranked = {cand.id: rank for rank, (_, cand, _) in enumerate(scored, start=1)}
    if pick.id in ranked:
        return None
    lineage = {pick.id, pick.base_model} - {None}
    for rank, (_, cand, _) in enumerate(scored, start=1):
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

    def to_dict(self) -> dict[str, Any]:
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
        }


def explain(model_id: str, task: str, *, db: Database | None = None, **options: Any) -> Explanation:
    """The full breakdown of one model's score for a task, or which constraints exclude it."""
    database = db or open_database()
    try:
        options = dict(options)
        options.pop("limit", None)
        options.pop("pareto_only", None)
        with database.connect() as conn:
            found = conn.execute(select(models.c.base_model).where(models.c.id == model_id)).first()
        if found is None:
            from catalog.queries import get_model

            get_model(database, model_id)  # raises UnknownModelError with suggestions
            raise AssertionError(f"{model_id} disappeared while it was being explained")
        base_model = found.base_model
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
            },
            base_model=base_model,
        )
    finally:
        if db is None:
            database.dispose()


def _why_excluded(database: Database, model_id: str, task: str, options: dict[str, Any]) -> list[str]:
    with database.connect() as conn:
        task_id = resolve_task(conn, task)
        c = _constraints(task, options)
        reasons = []
        in_task = conn.scalar(
            select(model_tasks.c.model_id).where(model_tasks.c.task_id == task_id, model_tasks.c.model_id == model_id)
        )
        if in_task is None:
            reasons.append(f"not a {task_id} model")
        for label, clause in _clauses(conn, c, set()):
            if conn.scalar(select(func.count()).select_from(models).where(models.c.id == model_id, clause)) == 0:
                reasons.append(label)
        if not reasons:
            reasons.append("a service target (--max-latency-ms / --min-accuracy) or the Pareto filter")
        return reasons


_ = (true, false, COMPONENTS)  # re-exported names used by callers and tests
