"""Latency statistics against numpy, the median's confidence interval, and adaptive stopping (with a fake clock)."""

from __future__ import annotations

import math
import random

import pytest

from bench.latency import (
    DEFAULT_MIN_ITERATIONS,
    TAIL_SAMPLES,
    Latency,
    LatencyTracker,
    StoppingRule,
    measure,
    median_ci_ranks,
    percentile,
)

np = pytest.importorskip("numpy")

SAMPLES = {
    "known": [12.0, 10.5, 11.0, 10.0, 13.5, 10.2, 10.8, 40.0, 10.4, 10.9, 11.1],
    "two": [5.0, 7.0],
    "one": [3.25],
    "lognormal": [random.Random(1).lognormvariate(2.0, 0.3) for _ in range(257)],
    "uniform": [random.Random(2).uniform(1.0, 2.0) for _ in range(1000)],
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_statistics_match_numpy(name: str) -> None:
    values = SAMPLES[name]
    latency = Latency.from_values(values)
    for q, got in ((50, latency.p50), (90, latency.p90), (95, latency.p95), (99, latency.p99)):
        assert got == pytest.approx(float(np.percentile(values, q)), rel=1e-12)
    assert latency.mean == pytest.approx(float(np.mean(values)), rel=1e-12)
    expected_stdev = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    assert latency.stdev == pytest.approx(expected_stdev, rel=1e-9, abs=1e-12)
    assert latency.cov == pytest.approx(expected_stdev / float(np.mean(values)), rel=1e-9, abs=1e-12)
    assert latency.samples_ms == tuple(values)  # raw samples kept, in arrival order
    assert latency.iterations == len(values)


def test_known_sample_values() -> None:
    latency = Latency.from_values(SAMPLES["known"])
    assert latency.p50 == 10.9
    assert latency.unstable  # one 40 ms outlier: CoV ~ 0.6, flagged rather than hidden
    assert Latency.from_values([10.0] * 20).unstable is False


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    with pytest.raises(ValueError):
        Latency.from_values([])


@pytest.mark.parametrize("n", [6, 7, 10, 11, 20, 50, 100, 299])
def test_median_ci_ranks_are_the_exact_binomial_interval(n: int) -> None:
    lower, upper = median_ci_ranks(n)
    k = lower + 1  # 1-based rank of the lower order statistic
    assert upper == n - k  # symmetric

    def cdf(j: int) -> float:
        return sum(math.comb(n, i) for i in range(j + 1)) / 2**n

    coverage = 1 - 2 * cdf(k - 1)
    assert coverage >= 0.95
    assert 1 - 2 * cdf(k) < 0.95  # the tightest such interval


def test_median_ci_needs_six_samples_and_scales_like_the_normal_approximation() -> None:
    assert median_ci_ranks(5) is None
    lower, upper = median_ci_ranks(10_000)
    assert lower == pytest.approx(10_000 / 2 - 1.96 * 50, abs=2)
    assert upper == pytest.approx(10_000 / 2 + 1.96 * 50, abs=2)


def test_ci_coverage_on_simulated_data() -> None:
    """About 95% of intervals from n=30 skewed samples contain the true median (distribution-free)."""
    rng = random.Random(7)
    true_median = math.exp(0.0)  # lognormal(0, 1)
    hits = 0
    trials = 2000
    for _ in range(trials):
        values = sorted(rng.lognormvariate(0.0, 1.0) for _ in range(30))
        lo, hi = median_ci_ranks(30)
        hits += values[lo] <= true_median <= values[hi]
    assert 0.93 <= hits / trials <= 0.99


class FakeClock:
    """A clock the step advances by the next duration, so stopping is deterministic."""

    def __init__(self, durations_ms: list[float]) -> None:
        self.now = 0
        self.durations = iter(durations_ms)
        self.steps = 0

    def __call__(self) -> int:
        return self.now

    def step(self) -> None:
        self.now += int(next(self.durations) * 1e6)
        self.steps += 1


def test_the_default_minimum_is_the_fewest_samples_with_a_95_percent_interval() -> None:
    assert median_ci_ranks(DEFAULT_MIN_ITERATIONS - 1) is None
    assert median_ci_ranks(DEFAULT_MIN_ITERATIONS) == (0, DEFAULT_MIN_ITERATIONS - 1)  # [min, max]
    assert 1 - 2 / 2**DEFAULT_MIN_ITERATIONS >= 0.95  # its coverage: 96.9%
    assert StoppingRule().min_iterations == DEFAULT_MIN_ITERATIONS
    # from 9 samples on, one stray sample on either side no longer blocks stopping
    assert median_ci_ranks(8) == (0, 7) and median_ci_ranks(9) == (1, 7)


def test_the_cli_default_is_the_stopping_rule_default() -> None:
    from catalog.cli import bench as bench_cli  # its options are built at start-up, without bench.latency

    option = next(p for p in bench_cli.run_command.params if p.name == "min_iterations")
    assert option.default == DEFAULT_MIN_ITERATIONS


@pytest.mark.parametrize("q", sorted(TAIL_SAMPLES))
def test_tail_sample_counts_are_where_the_percentile_leaves_the_two_slowest(q: int) -> None:
    def between_two_slowest(n: int) -> bool:
        values = [float(i) for i in range(n)]  # distinct, sorted
        return values[-2] < percentile(values, q) <= values[-1]

    assert between_two_slowest(TAIL_SAMPLES[q])
    assert not between_two_slowest(TAIL_SAMPLES[q] + 1)


def test_six_samples_within_two_percent_stop_at_the_default_minimum() -> None:
    clock = FakeClock([30.0, 20.0] + [10.0, 10.1, 9.95, 10.05, 9.9, 10.15] + [10.0] * 100)
    latency = measure(clock.step, StoppingRule(budget_s=60, warmup_iterations=2), clock=clock)
    assert latency.iterations == DEFAULT_MIN_ITERATIONS and latency.converged
    # one sample 5% off keeps it going until the interval can drop it (9 samples)
    clock = FakeClock([30.0, 20.0] + [10.0, 10.5, 10.0, 10.05, 9.95, 10.0] + [10.0] * 100)
    latency = measure(clock.step, StoppingRule(budget_s=60, warmup_iterations=2), clock=clock)
    assert latency.iterations == 9 and latency.converged


def test_stable_timings_stop_at_the_minimum_iterations() -> None:
    clock = FakeClock([50.0, 30.0, 20.0] + [10.0] * 1000)  # warm-up is slow and must not count
    latency = measure(clock.step, StoppingRule(budget_s=60, min_iterations=10, warmup_iterations=3), clock=clock)
    assert latency.iterations == 10
    assert clock.steps == 13
    assert latency.p50 == 10.0
    assert latency.converged


def test_warmup_ends_once_the_timings_stop_falling() -> None:
    clock = FakeClock([10.4, 10.0] + [10.0] * 1000)  # the second call is less than 5% faster than the first
    latency = measure(clock.step, StoppingRule(budget_s=60, min_iterations=10, warmup_iterations=5), clock=clock)
    assert clock.steps == 2 + 10
    assert latency.samples_ms == (10.0,) * 10
    clock = FakeClock([30.0, 20.0, 15.0] + [10.0] * 1000)  # still falling fast: up to the cap
    measure(clock.step, StoppingRule(budget_s=60, min_iterations=10, warmup_iterations=3), clock=clock)
    assert clock.steps == 3 + 10


def test_noisy_timings_run_until_the_interval_is_within_two_percent() -> None:
    rng = random.Random(3)
    durations = [10.0 * rng.lognormvariate(0.0, 0.08) for _ in range(10_000)]
    clock = FakeClock(durations)
    rule = StoppingRule(budget_s=10_000, min_iterations=10, warmup_iterations=0)
    latency = measure(clock.step, rule, clock=clock)
    assert latency.iterations > 10
    assert latency.converged
    ordered = sorted(latency.samples_ms)
    lo, hi = median_ci_ranks(len(ordered))
    assert max(latency.p50 - ordered[lo], ordered[hi] - latency.p50) / latency.p50 <= 0.02
    # and it stopped as soon as that held: one sample fewer was not yet within 2%
    previous = sorted(latency.samples_ms[:-1])
    lo, hi = median_ci_ranks(len(previous))
    median = percentile(previous, 50)
    assert max(median - previous[lo], previous[hi] - median) / median > 0.02


def test_the_budget_caps_an_unstable_measurement_and_says_so() -> None:
    rng = random.Random(4)
    durations = [rng.choice([10.0, 30.0]) for _ in range(10_000)]
    clock = FakeClock(durations)
    latency = measure(clock.step, StoppingRule(budget_s=1.0, min_iterations=10, warmup_iterations=2), clock=clock)
    total_ms = sum(latency.samples_ms)
    assert total_ms <= 1000 + 30  # stops with the first sample past the budget
    assert not latency.converged
    assert latency.unstable


def test_warmup_is_capped_at_ten_percent_of_the_budget() -> None:
    clock = FakeClock([400.0] + [10.0] * 100)
    measure(clock.step, StoppingRule(budget_s=2.0, warmup_iterations=5, min_iterations=10), clock=clock)
    assert clock.steps == 1 + 10  # one 400 ms warm-up iteration already passed 10% of 2 s


def test_work_between_iterations_is_not_timed() -> None:
    clock = FakeClock([10.0] * 100)
    calls: list[int] = []

    def between() -> None:  # the memory guard's check: 5 ms each, outside the timed region
        calls.append(clock.steps)
        clock.now += 5_000_000

    latency = measure(clock.step, StoppingRule(budget_s=60, min_iterations=10, warmup_iterations=2), clock=clock,
                      between=between)  # fmt: skip
    assert latency.samples_ms == (10.0,) * 10
    assert calls == list(range(1, 13))  # after each of the 2 warm-up and 10 timed iterations


def test_tracker_context_manager_keeps_raw_samples() -> None:
    tracker = LatencyTracker()
    for _ in range(7):
        with tracker.track():
            sum(range(1000))
    assert len(tracker.samples_ms) == 7
    assert all(v > 0 for v in tracker.samples_ms)
    assert tracker.latency().iterations == 7


def test_stopping_rule_validates() -> None:
    with pytest.raises(ValueError):
        StoppingRule(budget_s=0)
    with pytest.raises(ValueError):
        StoppingRule(target_rel=0)
    with pytest.raises(ValueError):
        StoppingRule(min_iterations=0)
