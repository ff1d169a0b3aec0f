"""BenchResult: one (model, shape) outcome, measured or failed. Serialises itself: to_dict() mirrors the
BenchmarkResult row, to_output() is the documented JSON object of `catalog bench run --format json`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

STATUSES = ("ok", "failed", "timeout", "oom", "interrupted")


def provenance(run_id: int | None, weights: str) -> str:
    run = f"run {run_id}" if run_id is not None else "not stored"
    if weights == "random":
        from catalog.recommend.scoring import RANDOM_WEIGHTS_LABEL

        return f"{RANDOM_WEIGHTS_LABEL} ({run})"
    return f"measured here ({run})"


@dataclass
class BenchResult:
    model_id: str
    task_id: str | None
    batch_size: int
    seq_len: int
    device: str
    dtype: str
    weights: str = "real"
    status: str = "ok"
    error: str | None = None
    latency_p50_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_mean_ms: float | None = None
    latency_stdev_ms: float | None = None
    latency_cov: float | None = None
    iterations: int | None = None
    converged: bool | None = None
    throughput_items_s: float | None = None
    throughput_tokens_s: float | None = None
    prefill_ms: float | None = None
    decode_ms_per_token: float | None = None
    load_time_s: float | None = None
    peak_rss_load_mb: float | None = None
    peak_rss_infer_mb: float | None = None
    cuda_max_allocated_mb: float | None = None
    cuda_max_reserved_mb: float | None = None
    flops_per_forward: int | None = None
    achieved_gflops: float | None = None
    peak_fraction: float | None = None
    samples_ms: list[float] = field(default_factory=list)
    unstable: bool = False
    note: str | None = None
    # The cost model's estimate of this case (catalog.costmodel): its terms, from the worker's config, and what it
    # predicted from this machine's other runs (completed when the result is stored).
    estimate: dict[str, Any] | None = None
    # Accuracy on labelled data (a result row of its own: batch_size is the evaluation's batch size, seq_len the
    # longest input it ran). Metric values are fractions except perplexity; BLEU/chrF are stored /100.
    eval_set: str | None = None
    eval_checksum: str | None = None
    eval_license: str | None = None
    n_examples: int | None = None
    examples_per_s: float | None = None
    primary_metric: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    ci95: dict[str, list[float]] = field(default_factory=dict)
    reported: dict[str, Any] = field(default_factory=dict)  # output only: the catalog's reported figures
    run_id: int | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def provenance(self) -> str:
        return provenance(self.run_id, self.weights)

    @property
    def is_evaluation(self) -> bool:
        return self.eval_set is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"provenance": self.provenance}

    def to_output(self) -> dict[str, Any]:
        """The JSON object per (model, shape) that scripts read."""
        latency = None
        if self.latency_p50_ms is not None:
            latency = {
                "p50": self.latency_p50_ms,
                "p90": self.latency_p90_ms,
                "p95": self.latency_p95_ms,
                "p99": self.latency_p99_ms,
                "mean": self.latency_mean_ms,
                "stdev": self.latency_stdev_ms,
                "cov": self.latency_cov,
            }
        return {
            "model": self.model_id,
            "task": self.task_id,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "device": self.device,
            "dtype": self.dtype,
            "weights": self.weights,
            "status": self.status,
            "error": self.error,
            "latency_ms": latency,
            "iterations": self.iterations,
            "converged": self.converged,
            "unstable": self.unstable,
            "throughput": {"items_s": self.throughput_items_s, "tokens_s": self.throughput_tokens_s},
            "prefill_ms": self.prefill_ms,
            "decode_ms_per_token": self.decode_ms_per_token,
            "load_time_s": self.load_time_s,
            "peak_rss_mb": {"load": self.peak_rss_load_mb, "inference": self.peak_rss_infer_mb},
            "cuda_mb": (
                {"max_allocated": self.cuda_max_allocated_mb, "max_reserved": self.cuda_max_reserved_mb}
                if self.cuda_max_allocated_mb is not None
                else None
            ),
            "flops_per_forward": self.flops_per_forward,
            "achieved_gflops": self.achieved_gflops,
            "peak_fraction": self.peak_fraction,
            "note": self.note,
            "estimate": _estimate_output(self.estimate),
            "eval_set": self.eval_set,
            "eval_checksum": self.eval_checksum,
            "eval_license": self.eval_license,
            "n_examples": self.n_examples,
            "examples_per_s": self.examples_per_s,
            "primary_metric": self.primary_metric,
            "metrics": dict(self.metrics),
            "ci95": {k: list(v) for k, v in self.ci95.items()},
            **({"reported": self.reported} if self.reported else {}),
            "run_id": self.run_id,
            "provenance": self.provenance,
        }


def _estimate_output(estimate: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stored estimate without its terms (FLOPs and bytes per phase: for the fit, not for people)."""
    if not estimate:
        return None
    return {key: value for key, value in estimate.items() if key != "terms"} or None
