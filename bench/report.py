"""Benchmark results -> flat records, a pandas DataFrame, Markdown, or one self-contained HTML file with plots.

Every figure carries where it comes from: `measured` (real weights on the run's machine), `estimated` (timed with
random weights built from the config: latency and memory only, never accuracy) and `reported` (the model card or
Hub metadata, with its source), shown beside a measured metric of the same model, task and name.

Reads the ORM rows directly (not bench.store) so every column of BenchmarkResult, accuracy included, reaches the
report. pandas, matplotlib and jinja2 are imported only by the functions that need them.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from catalog.db.engine import Database
from catalog.db.models import BenchmarkResult, BenchmarkRun, Evidence, ReportedMetric, Task
from catalog.errors import CatalogError, UnknownTaskError
from catalog.recommend.scoring import LOWER_IS_BETTER, RANDOM_WEIGHTS_LABEL

MEASURED, ESTIMATED, REPORTED = "measured", "estimated", "reported"
MARKERS = {MEASURED: "●", ESTIMATED: "○", REPORTED: "◆"}


class NoResultsError(CatalogError):
    """The selection holds no benchmark results."""


# ------------------------------------------------------------------------------------------------ formatting
# One formatter per kind of figure, shared by the table, Markdown and HTML (tests format DB values with these).


def fmt_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def fmt_mb(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def fmt_metric(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"


def fmt_metric_ci(value: float | None, ci: Sequence[float] | None) -> str:
    if value is None:
        return "—"
    if ci is None:
        return fmt_metric(value)
    return f"{fmt_metric(value)} [{fmt_metric(ci[0])}, {fmt_metric(ci[1])}]"


def fmt_error(value: float | None) -> str:
    """An estimate's relative error against the measurement: +12% means the estimate was 12% above it."""
    return "—" if value is None else f"{value:+.0%}"


def higher_is_better(metric: str | None) -> bool:
    return (metric or "").lower() not in LOWER_IS_BETTER


# ------------------------------------------------------------------------------------------------ records


@dataclass
class ReportedFigure:
    """A metric the model card or Hub metadata reports, on the measured metric's scale where it was a percent."""

    metric: str
    value: float
    dataset: str
    source: str
    split: str | None = None
    verified: bool = False

    @property
    def label(self) -> str:
        return f"{REPORTED} ({self.source})"


@dataclass(frozen=True)
class EstimateFigure:
    """The cost model's estimate recorded with a result before it was measured (details["estimate"]), next to the
    measurement: errors are (estimated - measured) / measured."""

    latency_p50_ms: float | None
    peak_rss_mb: float | None
    latency_error: float | None
    rss_error: float | None
    basis: str

    @classmethod
    def from_details(cls, stored: Any, p50_ms: float | None, rss_mb: float | None) -> EstimateFigure | None:
        if not isinstance(stored, dict):
            return None

        def number(key: str) -> float | None:
            value = stored.get(key)
            return float(value) if isinstance(value, int | float) and math.isfinite(value) and value > 0 else None

        latency, rss = number("latency_ms"), number("peak_rss_mb")
        if latency is None and rss is None:
            return None

        def error(estimated: float | None, measured: float | None) -> float | None:
            return None if estimated is None or not measured else (estimated - measured) / measured

        cases = stored.get("fit_cases")
        fit = f"fit on {cases} other runs here" if isinstance(cases, int) and cases else "priors (no other runs here)"
        peaks = "calibrated peaks" if stored.get("calibrated") else "an assumed peak (not calibrated)"
        basis = f"cost model, estimated before the run from the config: {fit}, never this model and shape; {peaks}"
        return cls(latency, rss, error(latency, p50_ms), error(rss, rss_mb), basis)

    def text(self) -> str:
        """'142.00 ms (+5%) · 410 MiB (-3%)'"""
        parts = []
        if self.latency_p50_ms is not None:
            parts.append(f"{fmt_ms(self.latency_p50_ms)} ms ({fmt_error(self.latency_error)})")
        if self.peak_rss_mb is not None:
            parts.append(f"{fmt_mb(self.peak_rss_mb)} MiB ({fmt_error(self.rss_error)})")
        return " · ".join(parts)


@dataclass
class ReportRow:
    """One (model, shape) result of one run, flattened; samples_ms stays out of the flat record."""

    run_id: int
    result_id: int
    machine_id: str
    run_started: datetime
    model: str
    task: str | None
    batch_size: int
    seq_len: int
    device: str
    dtype: str
    weights: str
    status: str
    error: str | None
    latency_p50_ms: float | None
    latency_p90_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    latency_mean_ms: float | None
    latency_stdev_ms: float | None
    latency_cov: float | None
    iterations: int | None
    unstable: bool
    throughput_items_s: float | None
    throughput_tokens_s: float | None
    peak_rss_load_mb: float | None
    peak_rss_infer_mb: float | None
    cuda_max_allocated_mb: float | None
    flops_per_forward: int | None
    achieved_gflops: float | None
    eval_set: str | None
    eval_checksum: str | None
    eval_license: str | None
    n_examples: int | None
    examples_per_s: float | None
    primary_metric: str | None
    metric_value: float | None
    metric_ci_low: float | None
    metric_ci_high: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    reported: ReportedFigure | None = None
    samples_ms: list[float] = field(default_factory=list)
    estimate: EstimateFigure | None = None

    @property
    def provenance(self) -> str:
        return ESTIMATED if self.weights == "random" else MEASURED

    @property
    def provenance_detail(self) -> str:
        if self.weights == "random":
            return f"{RANDOM_WEIGHTS_LABEL} (run {self.run_id})"
        return f"measured here (run {self.run_id}, machine {self.machine_id})"

    @property
    def shape(self) -> str:
        return f"{self.batch_size}×{self.seq_len}"

    @property
    def metric_ci(self) -> tuple[float, float] | None:
        if self.metric_ci_low is None or self.metric_ci_high is None:
            return None
        return self.metric_ci_low, self.metric_ci_high

    def to_dict(self) -> dict[str, Any]:
        """The flat record of --format json|csv and of the DataFrame (snake_case keys, no raw samples)."""
        reported = self.reported
        return {
            "run_id": self.run_id,
            "result_id": self.result_id,
            "machine_id": self.machine_id,
            "run_started": self.run_started.isoformat(timespec="seconds"),
            "model": self.model,
            "task": self.task,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "device": self.device,
            "dtype": self.dtype,
            "weights": self.weights,
            "status": self.status,
            "error": self.error,
            "provenance": self.provenance,
            "provenance_detail": self.provenance_detail,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p90_ms": self.latency_p90_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "latency_p99_ms": self.latency_p99_ms,
            "latency_mean_ms": self.latency_mean_ms,
            "latency_stdev_ms": self.latency_stdev_ms,
            "latency_cov": self.latency_cov,
            "iterations": self.iterations,
            "unstable": self.unstable,
            "throughput_items_s": self.throughput_items_s,
            "throughput_tokens_s": self.throughput_tokens_s,
            "peak_rss_load_mb": self.peak_rss_load_mb,
            "peak_rss_infer_mb": self.peak_rss_infer_mb,
            "cuda_max_allocated_mb": self.cuda_max_allocated_mb,
            "flops_per_forward": self.flops_per_forward,
            "achieved_gflops": self.achieved_gflops,
            "eval_set": self.eval_set,
            "eval_checksum": self.eval_checksum,
            "eval_license": self.eval_license,
            "n_examples": self.n_examples,
            "examples_per_s": self.examples_per_s,
            "primary_metric": self.primary_metric,
            "metric_value": self.metric_value,
            "metric_ci95_low": self.metric_ci_low,
            "metric_ci95_high": self.metric_ci_high,
            "metrics": dict(self.metrics),
            "reported_metric": reported.metric if reported else None,
            "reported_value": reported.value if reported else None,
            "reported_dataset": reported.dataset if reported else None,
            "reported_source": reported.source if reported else None,
            "estimated_p50_ms": self.estimate.latency_p50_ms if self.estimate else None,
            "estimate_p50_error": self.estimate.latency_error if self.estimate else None,
            "estimated_peak_rss_mb": self.estimate.peak_rss_mb if self.estimate else None,
            "estimate_rss_error": self.estimate.rss_error if self.estimate else None,
            "estimate_basis": self.estimate.basis if self.estimate else None,
        }


@dataclass
class RunInfo:
    id: int
    created_at: datetime
    status: str
    machine_id: str
    options: dict[str, Any]
    hardware: dict[str, Any]
    software: dict[str, Any]

    def fingerprint(self) -> dict[str, Any]:
        """The hardware and software facts that change benchmark figures, flat and readable."""
        hw, sw = self.hardware or {}, self.software or {}
        gpus = ", ".join(str(g.get("name", "?")) for g in hw.get("gpus", []) or []) or "none"
        return {
            "machine_id": self.machine_id,
            "cpu": hw.get("cpu_model"),
            "cores": f"{hw.get('physical_cores', '?')} physical / {hw.get('logical_cores', '?')} logical",
            "isa": " ".join(hw.get("isa", []) or []) or None,
            "ram_gb": hw.get("ram_gb"),
            "gpus": gpus,
            "os": hw.get("os") or sw.get("os"),
            "python": sw.get("python"),
            "torch": sw.get("torch"),
            "transformers": sw.get("transformers"),
            "numpy": sw.get("numpy"),
            "catalog": sw.get("catalog"),
            "threads": sw.get("torch_threads", sw.get("threads")),
            "device": self.options.get("device"),
            "dtype": self.options.get("dtype"),
        }


# ------------------------------------------------------------------------------------------------ selection


@dataclass(frozen=True)
class _Reported:
    """A published figure that may sit beside a measured one: a curated reported metric or an evidence row."""

    model_id: str
    task_id: str | None
    metric: str
    value: float
    scale: str
    dataset: str
    split: str | None
    source: str
    verified: bool


def _same_benchmark(benchmarks: Sequence[dict[str, Any]], eval_set: str | None, dataset: str) -> bool:
    """Whether a measured evaluation set and a reported figure's dataset are the same benchmark: the same name, or
    two spellings of one of the task's benchmarks (catalog.yaml `benchmarks`). A sample of a dataset, or another
    dataset with the same metric, is not."""
    if not eval_set:
        return False
    a, b = eval_set.lower(), dataset.lower()
    if a == b:
        return True

    def ids(name: str) -> set[str]:
        return {str(bench["id"]) for bench in benchmarks for spelled in bench.get("datasets") or ()
                if spelled.lower() == name}  # fmt: skip

    return bool(ids(a) & ids(b))


def _as_fraction_scale(measured: float | None, reported: _Reported) -> float:
    """Put a reported percent on the measured metric's 0..1 scale so the two sit side by side."""
    value = float(reported.value)
    if measured is not None and abs(measured) <= 1.0 and (reported.scale == "percent" or 1.0 < value <= 100.0):
        return value / 100.0
    return value


def _resolve_task(db: Database, name: str) -> str:
    from catalog.queries import resolve_task

    with db.session() as session:
        try:
            return resolve_task(session, name)
        except UnknownTaskError:
            # Results may name a task the taxonomy does not curate (a Hub pipeline tag): accept it as written.
            if session.scalar(select(BenchmarkResult.id).where(BenchmarkResult.task_id == name).limit(1)):
                return name
            raise


def load_rows(
    db: Database, *, task: str | None = None, run_ids: Iterable[int] = ()
) -> tuple[list[ReportRow], dict[int, RunInfo]]:
    """Results to report and the runs they come from.

    With run ids: every result of those runs. Without: the newest result per machine, model, task, shape, device,
    dtype and weights, across all runs, so a re-run replaces its older figure and machines stay apart.
    """
    run_ids = list(dict.fromkeys(int(r) for r in run_ids))
    task_id = _resolve_task(db, task) if task else None
    with db.session() as session:
        if run_ids:
            known = set(session.scalars(select(BenchmarkRun.id).where(BenchmarkRun.id.in_(run_ids))))
            missing = [r for r in run_ids if r not in known]
            if missing:
                from bench.store import UnknownRunError

                recent = [
                    str(i) for i in session.scalars(select(BenchmarkRun.id).order_by(BenchmarkRun.id.desc()).limit(50))
                ]
                raise UnknownRunError(str(missing[0]), recent)
        query = select(BenchmarkResult, BenchmarkRun).join(BenchmarkRun, BenchmarkRun.id == BenchmarkResult.run_id)
        if run_ids:
            query = query.where(BenchmarkResult.run_id.in_(run_ids))
        if task_id:
            query = query.where(BenchmarkResult.task_id == task_id)
        pairs = session.execute(query.order_by(BenchmarkResult.run_id, BenchmarkResult.id)).all()

        if not run_ids:
            newest: dict[tuple[Any, ...], Any] = {}
            for result, run in pairs:
                key = (
                    run.machine_id,
                    result.model_id,
                    result.task_id,
                    result.batch_size,
                    result.seq_len,
                    result.device,
                    result.dtype,
                    result.weights,
                )
                newest[key] = (result, run)  # ordered by id: the last one wins
            pairs = list(newest.values())

        runs: dict[int, RunInfo] = {}
        for _, run in pairs:
            runs.setdefault(
                run.id,
                RunInfo(
                    run.id,
                    run.created_at,
                    run.status,
                    run.machine_id,
                    dict(run.options or {}),
                    dict(run.hardware or {}),
                    dict(run.software or {}),
                ),
            )

        models = {result.model_id for result, _ in pairs}
        reported_rows: list[_Reported] = []
        benchmarks: dict[str, list[dict[str, Any]]] = {}
        if models:
            for r in session.scalars(
                select(ReportedMetric).where(ReportedMetric.model_id.in_(models)).order_by(ReportedMetric.id)
            ):
                reported_rows.append(_Reported(r.model_id, r.task_id, r.metric, r.value, r.scale, r.dataset, r.split,
                                               r.source, bool(r.verified)))  # fmt: skip
            for e in session.scalars(select(Evidence).where(Evidence.model_id.in_(models)).order_by(Evidence.id)):
                reported_rows.append(_Reported(e.model_id, e.task_id, e.metric, e.value, "raw", e.dataset, e.split,
                                               f"{e.source_kind}: {e.source_name}", bool(e.verified)))  # fmt: skip
            tasks = {result.task_id for result, _ in pairs if result.task_id}
            for task_row in session.scalars(select(Task).where(Task.id.in_(tasks))):
                benchmarks[task_row.id] = list(task_row.benchmarks or [])
        rows = [_row(result, run, reported_rows, benchmarks.get(result.task_id or "", [])) for result, run in pairs]
    rows.sort(key=lambda r: (r.task or "", r.model.lower(), r.batch_size, r.seq_len, r.device, r.dtype, r.run_id))
    return rows, dict(sorted(runs.items()))


def _row(
    result: BenchmarkResult, run: BenchmarkRun, reported_rows: list[_Reported], benchmarks: list[dict[str, Any]]
) -> ReportRow:
    details = result.details or {}
    metrics = dict(result.metrics or {}) if result.weights != "random" else {}
    metric = result.primary_metric if result.weights != "random" else None
    value = metrics.get(metric) if metric else None
    value = float(value) if isinstance(value, int | float) and math.isfinite(value) else None
    ci = (result.ci95 or {}).get(metric) if metric else None
    ci_low = float(ci[0]) if ci and len(ci) == 2 and ci[0] is not None else None
    ci_high = float(ci[1]) if ci and len(ci) == 2 and ci[1] is not None else None
    reported = None
    if metric and value is not None:
        for entry in reported_rows:
            if (
                entry.model_id == result.model_id
                and entry.metric.lower() == metric.lower()
                and (entry.task_id is None or entry.task_id == result.task_id)
                and _same_benchmark(benchmarks, result.eval_set, entry.dataset)
            ):
                reported = ReportedFigure(
                    entry.metric,
                    _as_fraction_scale(value, entry),
                    entry.dataset,
                    entry.source,
                    entry.split,
                    bool(entry.verified),
                )
                if entry.task_id == result.task_id:
                    break  # a figure for this very task beats a task-less one
    return ReportRow(
        run_id=run.id,
        result_id=result.id,
        machine_id=run.machine_id,
        run_started=run.created_at,
        model=result.model_id,
        task=result.task_id,
        batch_size=result.batch_size,
        seq_len=result.seq_len,
        device=result.device,
        dtype=result.dtype,
        weights=result.weights,
        status=result.status,
        error=result.error,
        latency_p50_ms=result.latency_p50_ms,
        latency_p90_ms=result.latency_p90_ms,
        latency_p95_ms=result.latency_p95_ms,
        latency_p99_ms=result.latency_p99_ms,
        latency_mean_ms=result.latency_mean_ms,
        latency_stdev_ms=result.latency_stdev_ms,
        latency_cov=result.latency_cov,
        iterations=result.iterations,
        unstable=bool(result.unstable),
        throughput_items_s=result.throughput_items_s,
        throughput_tokens_s=result.throughput_tokens_s,
        peak_rss_load_mb=result.peak_rss_load_mb,
        peak_rss_infer_mb=result.peak_rss_infer_mb,
        cuda_max_allocated_mb=details.get("cuda_max_allocated_mb"),
        flops_per_forward=result.flops_per_forward,
        achieved_gflops=result.achieved_gflops,
        eval_set=result.eval_set,
        eval_checksum=result.eval_checksum,
        eval_license=result.eval_license,
        n_examples=result.n_examples,
        examples_per_s=result.examples_per_s,
        primary_metric=metric,
        metric_value=value,
        metric_ci_low=ci_low,
        metric_ci_high=ci_high,
        metrics=metrics,
        reported=reported,
        samples_ms=[float(s) for s in (result.samples_ms or [])],
        estimate=EstimateFigure.from_details(details.get("estimate"), result.latency_p50_ms, result.peak_rss_infer_mb)
        if result.status == "ok"
        else None,
    )


# ------------------------------------------------------------------------------------------------ the report


def pareto_front(points: Sequence[tuple[float, float]], *, higher_better: bool = True) -> list[int]:
    """Indices of the points no other point beats on both latency (lower) and the metric, fastest first."""
    sign = 1.0 if higher_better else -1.0
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -sign * points[i][1]))
    front: list[int] = []
    best = -math.inf
    for i in order:
        score = sign * points[i][1]
        if score > best:
            front.append(i)
            best = score
    return front


@dataclass
class Report:
    rows: list[ReportRow]
    runs: dict[int, RunInfo]
    task: str | None = None
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(tzinfo=None))

    # --- grouping ---------------------------------------------------------------------------------------------

    @property
    def tasks(self) -> list[str | None]:
        return list(dict.fromkeys(r.task for r in self.rows))

    def rows_for(self, task: str | None) -> list[ReportRow]:
        return [r for r in self.rows if r.task == task]

    def accuracy_points(self, task: str | None) -> tuple[str | None, list[ReportRow], list[int]]:
        """The rows of one task that have latency and its most common headline metric, one per model at the
        task's reference shape (the most common shape among them; ties: the smallest), and the Pareto front."""
        rows = [r for r in self.rows_for(task) if r.status == "ok" and r.latency_p50_ms and r.metric_value is not None]
        if not rows:
            return None, [], []
        metric_counts: dict[str, int] = {}
        for r in rows:
            metric_counts[r.primary_metric or ""] = metric_counts.get(r.primary_metric or "", 0) + 1
        metric = max(metric_counts, key=lambda m: (metric_counts[m], m))
        rows = [r for r in rows if (r.primary_metric or "") == metric]
        shape_counts: dict[tuple[int, int], int] = {}
        for r in rows:
            shape_counts[(r.batch_size, r.seq_len)] = shape_counts.get((r.batch_size, r.seq_len), 0) + 1
        shape = min(shape_counts, key=lambda s: (-shape_counts[s], s))
        chosen: dict[tuple[str, str], ReportRow] = {}
        for r in rows:
            if (r.batch_size, r.seq_len) == shape:
                chosen[(r.model, r.machine_id)] = r  # the newest run wins
        picked = list(chosen.values())
        points = [(float(r.latency_p50_ms or 0.0), float(r.metric_value or 0.0)) for r in picked]
        return metric, picked, pareto_front(points, higher_better=higher_is_better(metric))

    # --- serialisation ----------------------------------------------------------------------------------------

    def to_records(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.rows]

    def to_dataframe(self, *, samples: bool = False) -> Any:
        import pandas as pd

        records = self.to_records()
        if samples:
            for record, row in zip(records, self.rows, strict=True):
                record["samples_ms"] = list(row.samples_ms)
        frame = pd.DataFrame.from_records(records, columns=list(records[0]) if records else None)
        if "run_started" in frame:
            frame["run_started"] = pd.to_datetime(frame["run_started"])
        return frame

    def to_markdown(self) -> str:
        return render_markdown(self)

    def to_html(self) -> str:
        return render_html(self)


def build_report(db: Database, *, task: str | None = None, run_ids: Iterable[int] = ()) -> Report:
    """The report for a task and/or runs; raises NoResultsError with what to run when there is nothing."""
    run_ids = list(run_ids)
    rows, runs = load_rows(db, task=task, run_ids=run_ids)
    if not rows:
        if task:
            raise NoResultsError(
                f"No benchmark results for {task} yet — run `catalog bench run --task {task} --model ID`."
            )
        if run_ids:
            raise NoResultsError(f"Run(s) {', '.join(map(str, run_ids))} hold no results — see `catalog bench list`.")
        raise NoResultsError("No benchmark results yet — run `catalog bench run --model ID_OR_PATH`.")
    return Report(rows, runs, task=_resolve_task(db, task) if task else None)


def _open(db: Database | str | None) -> Database:
    if isinstance(db, Database):
        return db
    from catalog.db import open_database

    return open_database(db)


def results_frame(
    db: Database | str | None = None, *, task: str | None = None, run_ids: Iterable[int] = (), samples: bool = False
) -> Any:
    """Benchmark results as a pandas DataFrame, one row per (run, model, shape); `db` is a Database, a URL or
    None for the configured catalog. samples=True adds the raw latency samples (a list per row)."""
    database = _open(db)
    try:
        rows, runs = load_rows(database, task=task, run_ids=run_ids)
    finally:
        if not isinstance(db, Database):
            database.dispose()
    return Report(rows, runs, task=task).to_dataframe(samples=samples)


# ------------------------------------------------------------------------------------------------ Markdown


def _md(text: Any) -> str:
    """A Markdown table cell: model text may hold |, newlines or HTML, none of which may break out."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def reported_text(row: ReportRow) -> str:
    if row.reported is None:
        return "—"
    return f"{fmt_metric(row.reported.value)} {row.reported.label}"


def render_markdown(report: Report) -> str:
    lines = ["# Benchmark report", ""]
    run_list = ", ".join(str(r) for r in report.runs)
    lines.append(
        f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC from run(s) {run_list}"
        + (f", task {_md(report.task)}" if report.task else "")
        + f". {MARKERS[MEASURED]} measured on the run's machine with real weights; {MARKERS[ESTIMATED]} "
        f"{RANDOM_WEIGHTS_LABEL} (built from the config: latency and memory only); {MARKERS[REPORTED]} reported "
        "by the model card or Hub metadata (source given). Latency in milliseconds per batch; metric with its 95% "
        "confidence interval. Estimated (error): the cost model's p50 and peak RSS recorded before the run, from the "
        "config and this machine's other runs (never the same model and shape), and how far each was from the "
        "measurement."
    )
    for task in report.tasks:
        lines += ["", f"## {_md(task or 'task not recorded')}", ""]
        header = [
            "Model",
            "Batch×seq",
            "Device",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "items/s",
            "tokens/s",
            "Peak RSS MiB",
            "Metric",
            "Value [95% CI]",
            "Reported",
            "Eval set",
            "Provenance",
            "Run",
            "Estimated (error)",
        ]
        lines.append("| " + " | ".join(header) + " |")
        lines.append(
            "|"
            + "|".join(
                "---:"
                if h
                in {"p50 ms", "p90 ms", "p99 ms", "items/s", "tokens/s", "Peak RSS MiB", "Run", "Estimated (error)"}
                else "---"
                for h in header
            )
            + "|"
        )
        for r in report.rows_for(task):
            if r.status != "ok":
                cells = [
                    _md(r.model),
                    r.shape,
                    _md(f"{r.device} {r.dtype}"),
                    f"{r.status}: {_md((r.error or '')[:80])}",
                ]
                cells += ["—"] * (len(header) - len(cells) - 3) + [
                    f"{MARKERS[r.provenance]} {r.provenance}",
                    str(r.run_id),
                    "—",
                ]
            else:
                cells = [
                    _md(r.model) + (" ⚠" if r.unstable else ""),
                    r.shape,
                    _md(f"{r.device} {r.dtype}"),
                    fmt_ms(r.latency_p50_ms),
                    fmt_ms(r.latency_p90_ms),
                    fmt_ms(r.latency_p99_ms),
                    fmt_rate(r.throughput_items_s),
                    fmt_rate(r.throughput_tokens_s),
                    fmt_mb(r.peak_rss_infer_mb),
                    _md(r.primary_metric or "—"),
                    fmt_metric_ci(r.metric_value, r.metric_ci),
                    _md(reported_text(r)),
                    _md(r.eval_set + (f" (n={r.n_examples})" if r.n_examples else "")) if r.eval_set else "—",
                    f"{MARKERS[r.provenance]} {r.provenance}",
                    str(r.run_id),
                    _md(r.estimate.text()) if r.estimate else "—",
                ]
            lines.append("| " + " | ".join(cells) + " |")
        metric, picked, front = report.accuracy_points(task)
        if picked:
            names = ", ".join(_md(picked[i].model) for i in front)
            lines += ["", f"Pareto frontier ({_md(metric)} vs p50 latency at {picked[0].shape}): {names}."]
    lines += ["", "## Hardware and software", ""]
    keys = ["machine_id", "cpu", "cores", "ram_gb", "gpus", "os", "python", "torch", "transformers", "device", "dtype"]
    lines.append("| Run | Started (UTC) | " + " | ".join(keys) + " |")
    lines.append("|---:|---|" + "---|" * len(keys))
    for run in report.runs.values():
        facts = run.fingerprint()
        cells = [str(run.id), f"{run.created_at:%Y-%m-%d %H:%M}"] + [
            _md("—" if facts[k] is None else facts[k]) for k in keys
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ HTML


def _short(model: str, width: int = 32) -> str:
    return model if len(model) <= width else "…" + model[-(width - 1) :]


def _task_plots(report: Report, task: str | None) -> list[Any]:
    from bench import plots

    rows = [r for r in report.rows_for(task) if r.status == "ok"]
    label = task or "task not recorded"
    multi_shape = len({(r.batch_size, r.seq_len) for r in rows}) > 1
    multi_machine = len({r.machine_id for r in rows}) > 1
    figures = []

    metric, picked, front = report.accuracy_points(task)
    if picked:
        points = [
            plots.AccuracyPoint(
                label=_short(r.model),
                latency_ms=float(r.latency_p50_ms or 0),
                value=float(r.metric_value or 0),
                ci=r.metric_ci,
                on_front=i in front,
                reported=r.reported.value if r.reported else None,
            )
            for i, r in enumerate(picked)
        ]
        figures.append(
            plots.accuracy_vs_latency(
                points,
                metric=metric or "metric",
                higher_better=higher_is_better(metric),
                title=f"{label}: {metric} vs p50 latency (batch×seq {picked[0].shape})",
            )
        )

    def name(r: ReportRow) -> str:
        text = _short(r.model)
        if multi_shape:
            text += f" {r.shape}"
        if multi_machine:
            text += f" @{r.machine_id[:6]}"
        return text

    series = [(name(r), r.samples_ms) for r in rows if len(r.samples_ms) >= 2]
    if series:
        figures.append(plots.latency_distributions(series, title=f"{label}: latency per iteration (raw samples)"))

    lines: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        if r.throughput_items_s:
            key = _short(r.model) + (f" seq {r.seq_len}" if len({x.seq_len for x in rows}) > 1 else "")
            key += f" @{r.machine_id[:6]}" if multi_machine else ""
            lines.setdefault(key, []).append((r.batch_size, float(r.throughput_items_s)))
    if any(len(points) > 1 for points in lines.values()):  # one batch size each: nothing to draw a line through
        figures.append(plots.throughput_vs_batch(lines, title=f"{label}: throughput against batch size"))

    bars: dict[str, tuple[float | None, float | None]] = {}
    for r in rows:
        if r.peak_rss_infer_mb or r.peak_rss_load_mb:
            key = _short(r.model) + (f" @{r.machine_id[:6]}" if multi_machine else "")
            load, infer = bars.get(key, (None, None))
            bars[key] = (_max(load, r.peak_rss_load_mb), _max(infer, r.peak_rss_infer_mb))
    if bars:
        figures.append(
            plots.memory_bars(
                [(k, v[0], v[1]) for k, v in bars.items()],
                title=f"{label}: peak memory (largest shape measured)",
            )
        )
    return figures


def _max(a: float | None, b: float | None) -> float | None:
    values = [v for v in (a, b) if v is not None]
    return max(values) if values else None


def render_html(report: Report) -> str:
    """One self-contained HTML file: plots as base64 PNG, CSS inline, nothing fetched; all model text escaped."""
    from importlib import resources

    import jinja2

    template_text = (resources.files("bench") / "templates" / "report.html.j2").read_text(encoding="utf-8")
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    environment.filters.update(ms=fmt_ms, rate=fmt_rate, mb=fmt_mb, metric=fmt_metric)
    sections = []
    for task in report.tasks:
        metric, picked, front = report.accuracy_points(task)
        sections.append(
            {
                "task": task or "task not recorded",
                "rows": report.rows_for(task),
                "plots": _task_plots(report, task),
                "frontier": [picked[i].model for i in front],
                "frontier_metric": metric,
            }
        )
    provenance = []
    for r in report.rows:
        if r.status == "ok" and r.latency_p50_ms is not None:
            provenance.append(
                {
                    "model": r.model,
                    "task": r.task,
                    "figure": f"latency, memory at {r.shape}",
                    "kind": r.provenance,
                    "source": r.provenance_detail,
                }
            )
        if r.estimate is not None:
            provenance.append(
                {
                    "model": r.model,
                    "task": r.task,
                    "figure": f"estimated latency, memory at {r.shape}: {r.estimate.text()}",
                    "kind": ESTIMATED,
                    "source": r.estimate.basis,
                }
            )
        if r.metric_value is not None:
            source = f"{r.eval_set or 'eval set not recorded'}"
            if r.n_examples:
                source += f", {r.n_examples} examples"
            if r.eval_checksum:
                source += f", sha256 {r.eval_checksum[:12]}"
            provenance.append(
                {
                    "model": r.model,
                    "task": r.task,
                    "figure": f"{r.primary_metric} (run {r.run_id})",
                    "kind": MEASURED,
                    "source": source,
                }
            )
        if r.reported is not None:
            provenance.append(
                {
                    "model": r.model,
                    "task": r.task,
                    "figure": r.reported.metric,
                    "kind": REPORTED,
                    "source": f"{r.reported.source} ({r.reported.dataset})",
                }
            )
    keys = list(next(iter(report.runs.values())).fingerprint()) if report.runs else []
    fingerprints: list[dict[str, Any]] = [{"run": run, "facts": run.fingerprint()} for run in report.runs.values()]
    differing = {k for k in keys if len({str(f["facts"][k]) for f in fingerprints}) > 1}
    template = environment.from_string(template_text)
    return template.render(
        report=report,
        sections=sections,
        provenance=provenance,
        fingerprints=fingerprints,
        fingerprint_keys=keys,
        differing=differing,
        markers=MARKERS,
        fmt_metric_ci=fmt_metric_ci,
        reported_text=reported_text,
    )
