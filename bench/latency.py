"""Latency: a tracker that keeps every raw sample, adaptive stopping, and statistics computed in one constructor.

Warm-up: at most `warmup_iterations`, and it ends as soon as an iteration is no more than `warmup_tolerance`
faster than the one before it (the timings stopped falling: on this machine bert-base's first call is only 5-10%
slower than the rest), or when it has used its share of the budget.

Stopping rule: after warm-up, keep iterating until the distribution-free 95% confidence interval of the median
(two order statistics chosen from the Binomial(n, 1/2) distribution, so no normality is assumed) lies within
±`target_rel` of the median, with at least `min_iterations` samples; the time budget caps it. The default minimum
is the fewest samples for which that interval exists at all: 6 at 95% (the interval is then [min, max], coverage
96.9%; so stopping at 6 means every sample lies within ±2% of the median). From 9 samples on, the interval drops
the extreme on each side, so one stray sample no longer blocks stopping. Tail percentiles need more samples than
the median: from 20 samples or fewer, p95 lies between the two slowest samples (p90: 10, p99: 100), so it says
little beyond the maximum; ask for more with a higher `min_iterations` (`catalog bench run --min-iterations 100`).
A result that ran out of budget before converging says so (`converged=False`), and a high coefficient of
variation flags it as unstable instead of hiding it.

Percentiles use linear interpolation between order statistics, numpy's default method, so the figures agree with
`numpy.percentile` on the same samples. Pure Python: no numpy needed to measure.
"""

from __future__ import annotations

import bisect
import functools
import math
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

UNSTABLE_COV = 0.10  # coefficient of variation above which a result is flagged as unstable
NS_PER_MS = 1_000_000
DEFAULT_MIN_ITERATIONS = 6  # the fewest samples with a 95% distribution-free interval of the median (see below)
TAIL_SAMPLES = {90: 10, 95: 20, 99: 100}  # at these counts or fewer, the percentile lies between the two slowest


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, linear interpolation (numpy's default)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    position = (len(sorted_values) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


@functools.lru_cache(maxsize=4096)
def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int] | None:
    """0-based ranks (lower, upper) of the order statistics bounding the median with at least `confidence`
    coverage; None when n is too small for any distribution-free interval at that level (n < 6 for 95%).

    With B ~ Binomial(n, 1/2) and k the largest integer with P(B <= k - 1) <= alpha / 2, the interval
    [x_(k), x_(n-k+1)] (1-based order statistics) covers the population median with probability >= confidence.
    Exact sums up to n = 300, the normal approximation (with continuity correction) above.
    """
    alpha = 1 - confidence
    if n > 300:
        z = statistics.NormalDist().inv_cdf(1 - alpha / 2)
        k = max(0, math.floor(n / 2 - 0.5 - z * math.sqrt(n) / 2) + 1)
    else:
        log_half_n = -n * math.log(2)
        cumulative, k = 0.0, 0
        while k < n // 2:
            cumulative += math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + log_half_n)
            if cumulative > alpha / 2:
                break
            k += 1
    if k == 0:
        return None
    return k - 1, n - k


def median_ci(sorted_values: Sequence[float], confidence: float = 0.95) -> tuple[float, float] | None:
    ranks = median_ci_ranks(len(sorted_values), confidence)
    if ranks is None:
        return None
    return sorted_values[ranks[0]], sorted_values[ranks[1]]


def median_ci_half_width(sorted_values: Sequence[float], confidence: float = 0.95) -> float:
    """Half-width of the median's CI relative to the median (the larger side); inf when not yet defined."""
    interval = median_ci(sorted_values, confidence)
    if interval is None:
        return math.inf
    median = percentile(sorted_values, 50)
    if median <= 0:
        return math.inf
    return max(median - interval[0], interval[1] - median) / median


@dataclass(frozen=True)
class Latency:
    """Statistics of one series of latency samples, in milliseconds, with the raw samples kept."""

    samples_ms: tuple[float, ...]
    p50: float
    p90: float
    p95: float
    p99: float
    mean: float
    stdev: float
    cov: float
    ci_low: float | None
    ci_high: float | None
    converged: bool = False

    @classmethod
    def from_values(cls, values_ms: Sequence[float], *, target_rel: float = 0.02, confidence: float = 0.95) -> Latency:
        if not values_ms:
            raise ValueError("no latency samples")
        ordered = sorted(float(v) for v in values_ms)
        n = len(ordered)
        mean = math.fsum(ordered) / n
        stdev = math.sqrt(math.fsum((v - mean) ** 2 for v in ordered) / (n - 1)) if n > 1 else 0.0
        interval = median_ci(ordered, confidence)
        return cls(
            samples_ms=tuple(float(v) for v in values_ms),
            p50=percentile(ordered, 50),
            p90=percentile(ordered, 90),
            p95=percentile(ordered, 95),
            p99=percentile(ordered, 99),
            mean=mean,
            stdev=stdev,
            cov=stdev / mean if mean > 0 else 0.0,
            ci_low=interval[0] if interval else None,
            ci_high=interval[1] if interval else None,
            converged=median_ci_half_width(ordered, confidence) <= target_rel,
        )

    @property
    def iterations(self) -> int:
        return len(self.samples_ms)

    @property
    def unstable(self) -> bool:
        return self.cov > UNSTABLE_COV

    def summary(self) -> dict[str, float]:
        """The `latency_ms` object of the JSON output."""
        return {
            "p50": self.p50,
            "p90": self.p90,
            "p95": self.p95,
            "p99": self.p99,
            "mean": self.mean,
            "stdev": self.stdev,
            "cov": self.cov,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "ci95_median": [self.ci_low, self.ci_high],
            "iterations": self.iterations,
            "converged": self.converged,
            "unstable": self.unstable,
            "samples_ms": list(self.samples_ms),
        }


@dataclass
class StoppingRule:
    """When to stop measuring: CI of the median within ±target_rel, at least min_iterations, within budget_s."""

    budget_s: float = 10.0
    target_rel: float = 0.02
    confidence: float = 0.95
    min_iterations: int = DEFAULT_MIN_ITERATIONS
    max_iterations: int = 100_000
    warmup_iterations: int = 3  # at most; fewer once the timings stop falling (warmup_tolerance)
    warmup_tolerance: float = 0.05  # an iteration no more than this much faster than the previous one ends warm-up
    warmup_fraction: float = 0.10  # warm-up never takes more than this share of the budget (but >= 1 iteration)

    def __post_init__(self) -> None:
        if self.budget_s <= 0:
            raise ValueError(f"budget_s must be positive, not {self.budget_s}")
        if not 0 < self.target_rel < 1:
            raise ValueError(f"target_rel must be within (0, 1), not {self.target_rel}")
        if not 0.5 < self.confidence < 1:
            raise ValueError(f"confidence must be within (0.5, 1), not {self.confidence}")
        if self.min_iterations < 1 or self.max_iterations < self.min_iterations:
            raise ValueError("need 1 <= min_iterations <= max_iterations")
        if self.warmup_iterations < 0:
            raise ValueError("warmup_iterations cannot be negative")
        if not 0 <= self.warmup_tolerance < 1:
            raise ValueError(f"warmup_tolerance must be within [0, 1), not {self.warmup_tolerance}")


@dataclass
class LatencyTracker:
    """Times code blocks with perf_counter_ns and keeps every raw sample (in ms) in arrival order."""

    samples_ms: list[float] = field(default_factory=list)
    _sorted: list[float] = field(default_factory=list, repr=False)

    @contextmanager
    def track(self) -> Iterator[None]:
        start = time.perf_counter_ns()
        yield
        self.add((time.perf_counter_ns() - start) / NS_PER_MS)

    def add(self, value_ms: float) -> None:
        self.samples_ms.append(value_ms)
        bisect.insort(self._sorted, value_ms)

    def half_width(self, confidence: float = 0.95) -> float:
        return median_ci_half_width(self._sorted, confidence)

    def latency(self, *, target_rel: float = 0.02, confidence: float = 0.95) -> Latency:
        return Latency.from_values(self.samples_ms, target_rel=target_rel, confidence=confidence)


def measure(
    step: Callable[[], Any],
    rule: StoppingRule,
    *,
    clock: Callable[[], int] = time.perf_counter_ns,
    on_sample: Callable[[LatencyTracker], None] | None = None,
    between: Callable[[], Any] | None = None,
) -> Latency:
    """Warm up, then time `step()` until the stopping rule is met. `step` must finish its work before returning
    (synchronise the device inside it). `between()` runs after every iteration, outside the timed region (the
    memory guard's check)."""
    started = clock()
    budget_ns = rule.budget_s * 1e9
    warmup_deadline = started + budget_ns * rule.warmup_fraction
    previous = math.inf
    for _ in range(rule.warmup_iterations):
        begin = clock()
        step()
        end = clock()
        if between is not None:
            between()
        if end >= warmup_deadline or end - begin >= (1 - rule.warmup_tolerance) * previous:
            break
        previous = end - begin
    tracker = LatencyTracker()
    deadline = started + budget_ns
    while True:
        begin = clock()
        step()
        end = clock()
        tracker.add((end - begin) / NS_PER_MS)
        if between is not None:
            between()
        if on_sample is not None:
            on_sample(tracker)
        n = len(tracker.samples_ms)
        if n >= rule.max_iterations:
            break
        if n >= rule.min_iterations and tracker.half_width(rule.confidence) <= rule.target_rel:
            break
        if end >= deadline and n >= min(rule.min_iterations, 3):
            break
    return tracker.latency(target_rel=rule.target_rel, confidence=rule.confidence)
