"""Run-to-run comparison: per model and shape, did latency or accuracy get worse?

Latency: the medians of the raw samples, and a two-sided Mann-Whitney U test on the samples themselves (no
normality assumed, robust to the long right tail of latencies). A regression is a median slower by more than
`threshold` (default 5%) AND p < `alpha` (default 0.01): both a meaningful size and unlikely to be noise.
Accuracy: the new value of the headline metric against the old run's 95% confidence interval; a regression is a
new value outside it on the worse side. Results are matched on model, task, batch size, sequence length, dtype
and weights, not on device or machine, so runs on two machines compare (their fingerprints are shown together).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from catalog.db.engine import Database
from catalog.db.models import BenchmarkResult, BenchmarkRun
from catalog.recommend.scoring import LOWER_IS_BETTER

DEFAULT_THRESHOLD = 0.05
DEFAULT_ALPHA = 0.01
MIN_SAMPLES = 5  # fewer samples on either side: no test, no flag

REGRESSION, IMPROVED, UNCHANGED, UNTESTED = "regression", "improved", "unchanged", "not tested"


@dataclass
class ComparisonRow:
    model: str
    task: str | None
    batch_size: int
    seq_len: int
    dtype: str
    weights: str
    status_a: str | None
    status_b: str | None
    device_a: str | None = None
    device_b: str | None = None
    median_a_ms: float | None = None
    median_b_ms: float | None = None
    latency_delta: float | None = None  # (b - a) / a
    p_value: float | None = None
    samples_a: int = 0
    samples_b: int = 0
    latency_verdict: str = UNTESTED
    metric: str | None = None
    metric_a: float | None = None
    metric_a_ci: tuple[float, float] | None = None
    metric_b: float | None = None
    metric_delta: float | None = None
    eval_set_a: str | None = None
    eval_set_b: str | None = None
    accuracy_verdict: str = UNTESTED
    notes: list[str] = field(default_factory=list)

    @property
    def shape(self) -> str:
        return f"{self.batch_size}×{self.seq_len}"

    @property
    def regression(self) -> bool:
        return REGRESSION in (self.latency_verdict, self.accuracy_verdict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "task": self.task,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "dtype": self.dtype,
            "weights": self.weights,
            "status_a": self.status_a,
            "status_b": self.status_b,
            "device_a": self.device_a,
            "device_b": self.device_b,
            "median_a_ms": self.median_a_ms,
            "median_b_ms": self.median_b_ms,
            "latency_delta": self.latency_delta,
            "p_value": self.p_value,
            "samples_a": self.samples_a,
            "samples_b": self.samples_b,
            "latency_verdict": self.latency_verdict,
            "metric": self.metric,
            "metric_a": self.metric_a,
            "metric_a_ci95": list(self.metric_a_ci) if self.metric_a_ci else None,
            "metric_b": self.metric_b,
            "metric_delta": self.metric_delta,
            "eval_set_a": self.eval_set_a,
            "eval_set_b": self.eval_set_b,
            "accuracy_verdict": self.accuracy_verdict,
            "regression": self.regression,
            "notes": list(self.notes),
        }


@dataclass
class Comparison:
    run_a: int
    run_b: int
    threshold: float
    alpha: float
    fingerprint_a: dict[str, Any]
    fingerprint_b: dict[str, Any]
    rows: list[ComparisonRow]

    @property
    def regressions(self) -> list[ComparisonRow]:
        return [r for r in self.rows if r.regression]

    @property
    def same_machine(self) -> bool:
        return self.fingerprint_a.get("machine_id") == self.fingerprint_b.get("machine_id")

    def fingerprint_rows(self) -> list[dict[str, Any]]:
        """The two fingerprints side by side, with whether each fact differs."""
        keys = list(dict.fromkeys([*self.fingerprint_a, *self.fingerprint_b]))
        return [
            {
                "fact": k,
                "run_a": self.fingerprint_a.get(k),
                "run_b": self.fingerprint_b.get(k),
                # the run id and start time always differ: only facts that change figures count
                "differs": k not in {"run", "started"}
                and str(self.fingerprint_a.get(k)) != str(self.fingerprint_b.get(k)),
            }
            for k in keys
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "threshold": self.threshold,
            "alpha": self.alpha,
            "same_machine": self.same_machine,
            "fingerprints": self.fingerprint_rows(),
            "regressions": len(self.regressions),
            "rows": [r.to_dict() for r in self.rows],
        }


def _median(samples: list[float], fallback: float | None) -> float | None:
    return statistics.median(samples) if samples else fallback


def _metric(result: BenchmarkResult) -> tuple[str | None, float | None, tuple[float, float] | None]:
    if result.weights == "random" or not result.primary_metric:
        return None, None, None
    metric = result.primary_metric
    value = (result.metrics or {}).get(metric)
    if not isinstance(value, int | float) or not math.isfinite(value):
        return metric, None, None
    ci = (result.ci95 or {}).get(metric)
    interval = (float(ci[0]), float(ci[1])) if ci and len(ci) == 2 and None not in ci else None
    return metric, float(value), interval


def _compare_latency(
    row: ComparisonRow, a: BenchmarkResult, b: BenchmarkResult, threshold: float, alpha: float
) -> None:
    samples_a = [float(s) for s in (a.samples_ms or [])]
    samples_b = [float(s) for s in (b.samples_ms or [])]
    row.samples_a, row.samples_b = len(samples_a), len(samples_b)
    row.median_a_ms = _median(samples_a, a.latency_p50_ms)
    row.median_b_ms = _median(samples_b, b.latency_p50_ms)
    if row.median_a_ms and row.median_b_ms is not None:
        row.latency_delta = (row.median_b_ms - row.median_a_ms) / row.median_a_ms
    if len(samples_a) < MIN_SAMPLES or len(samples_b) < MIN_SAMPLES or row.latency_delta is None:
        row.notes.append(f"latency not tested: fewer than {MIN_SAMPLES} raw samples")
        return
    from scipy.stats import mannwhitneyu

    row.p_value = float(mannwhitneyu(samples_b, samples_a, alternative="two-sided").pvalue)
    significant = row.p_value < alpha
    if significant and row.latency_delta > threshold:
        row.latency_verdict = REGRESSION
    elif significant and row.latency_delta < -threshold:
        row.latency_verdict = IMPROVED
    else:
        row.latency_verdict = UNCHANGED


def _compare_accuracy(row: ComparisonRow, a: BenchmarkResult, b: BenchmarkResult) -> None:
    metric_a, value_a, ci_a = _metric(a)
    metric_b, value_b, _ = _metric(b)
    row.eval_set_a, row.eval_set_b = a.eval_set, b.eval_set
    if value_a is None and value_b is None:
        return
    row.metric = metric_a or metric_b
    row.metric_a, row.metric_a_ci, row.metric_b = value_a, ci_a, value_b
    if value_a is None or value_b is None:
        row.notes.append("accuracy measured in one run only")
        return
    if metric_a != metric_b:
        row.notes.append(f"different metrics ({metric_a} vs {metric_b})")
        return
    row.metric_delta = value_b - value_a
    if a.eval_set != b.eval_set:
        row.notes.append(f"different eval sets ({a.eval_set} vs {b.eval_set}): not flagged")
        return
    if a.eval_checksum and b.eval_checksum and a.eval_checksum != b.eval_checksum:
        row.notes.append("eval data changed (checksums differ): not flagged")
        return
    if ci_a is None:
        row.notes.append("no confidence interval in run A: not flagged")
        return
    lower_better = (metric_a or "").lower() in LOWER_IS_BETTER
    worse = value_b > ci_a[1] if lower_better else value_b < ci_a[0]
    better = value_b < ci_a[0] if lower_better else value_b > ci_a[1]
    row.accuracy_verdict = REGRESSION if worse else IMPROVED if better else UNCHANGED


def _fingerprint(run: BenchmarkRun) -> dict[str, Any]:
    from bench.report import RunInfo

    info = RunInfo(
        run.id,
        run.created_at,
        run.status,
        run.machine_id,
        dict(run.options or {}),
        dict(run.hardware or {}),
        dict(run.software or {}),
    )
    return {"run": run.id, "started": run.created_at.isoformat(timespec="seconds"), **info.fingerprint()}


def compare_runs(
    db: Database, run_a: int, run_b: int, *, threshold: float = DEFAULT_THRESHOLD, alpha: float = DEFAULT_ALPHA
) -> Comparison:
    """Compare run_b (new) against run_a (old); see the module docstring for the rules."""
    from catalog.errors import UsageError

    if threshold < 0:
        raise UsageError(f"--threshold must be zero or positive (0.05 is 5%), not {threshold}.")
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha must lie between 0 and 1, not {alpha}.")
    with db.session() as session:
        runs = {}
        for run_id in (run_a, run_b):
            run = session.get(BenchmarkRun, run_id)
            if run is None:
                from bench.store import UnknownRunError

                recent = [
                    str(i) for i in session.scalars(select(BenchmarkRun.id).order_by(BenchmarkRun.id.desc()).limit(50))
                ]
                raise UnknownRunError(str(run_id), recent)
            runs[run_id] = run

        def keyed(run: BenchmarkRun) -> dict[tuple[Any, ...], BenchmarkResult]:
            found: dict[tuple[Any, ...], BenchmarkResult] = {}
            for result in run.results:  # ordered by id: a repeated key keeps the last
                found[
                    (result.model_id, result.task_id, result.batch_size, result.seq_len, result.dtype, result.weights)
                ] = result
            return found

        old, new = keyed(runs[run_a]), keyed(runs[run_b])
        rows: list[ComparisonRow] = []
        for key in list(dict.fromkeys([*old, *new])):
            a, b = old.get(key), new.get(key)
            model, task, batch, seq, dtype, weights = key
            row = ComparisonRow(
                model=model,
                task=task,
                batch_size=batch,
                seq_len=seq,
                dtype=dtype,
                weights=weights,
                status_a=a.status if a else None,
                status_b=b.status if b else None,
                device_a=a.device if a else None,
                device_b=b.device if b else None,
            )
            if a is None or b is None:
                row.notes.append(f"only in run {run_a if a else run_b}")
            elif a.status == "ok" and b.status != "ok":
                row.latency_verdict = REGRESSION
                row.notes.append(f"now {b.status}: {(b.error or '')[:120]}")
            elif a.status != "ok" or b.status != "ok":
                row.notes.append(f"run {run_a}: {a.status}, run {run_b}: {b.status}")
            else:
                _compare_latency(row, a, b, threshold, alpha)
                _compare_accuracy(row, a, b)
            if a is not None and b is not None and a.device != b.device:
                row.notes.append(f"device {a.device} -> {b.device}")
            rows.append(row)
        rows.sort(key=lambda r: (r.task or "", r.model.lower(), r.batch_size, r.seq_len, r.dtype, r.weights))
        return Comparison(run_a, run_b, threshold, alpha, _fingerprint(runs[run_a]), _fingerprint(runs[run_b]), rows)
