"""Refine the cost model with this machine's own benchmark results.

Each stored result (status ok, this machine, this device) becomes one observation per phase (forward, or prefill
and decode): the phase's FLOPs, bytes and layer calls (recorded with the result under details["estimate"], or
recomputed from the model's config when it can be found) and the time measured. The fit is:

    time = max(FLOPs / (peak x e_compute), bytes / (bandwidth x e_bandwidth)) + layer calls x overhead

with one efficiency per architecture kind x dtype x regime (compute-bound or bandwidth-bound: whichever term is
larger), each the median over its observations, and one framework overhead per layer call (the median over the
observations it dominates), alternated a few times. A group without observations borrows from the same dtype and
regime, then the same regime, then the prior, and the basis says which. Memory: the runtime's fixed overhead is
the median of measured peak minus the modelled weights, activations and KV cache.

Leave-one-out: `exclude` drops every observation of one (model, batch size, sequence length), so a case is never
estimated from its own run.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from catalog.costmodel.machine import Profile

PRIOR_EFFICIENCY = {"compute": 0.6, "bandwidth": 0.6}
PRIOR_OVERHEAD_MS = {"cpu": 0.5, "cuda": 0.08, "mps": 0.15}  # per layer call: eager PyTorch dispatch
PRIOR_MEMORY_OVERHEAD_MB = 40.0
OVERHEAD_DOMINATED = 0.3  # share of a phase's time above which it informs the overhead, not the efficiency


@dataclass(frozen=True)
class Observation:
    model_id: str
    batch_size: int
    seq_len: int
    kind: str
    dtype: str
    phase: str
    flops: float
    bytes: float
    layer_calls: float
    measured_ms: float
    run_id: int | None = None
    result_id: int | None = None

    @property
    def case(self) -> tuple[str, int, int]:
        return (self.model_id, self.batch_size, self.seq_len)


@dataclass(frozen=True)
class MemoryObservation:
    model_id: str
    batch_size: int
    seq_len: int
    modelled_mb: float  # weights + activations + KV cache
    measured_mb: float

    @property
    def case(self) -> tuple[str, int, int]:
        return (self.model_id, self.batch_size, self.seq_len)


@dataclass
class Efficiency:
    value: float
    runs: int
    scope: str  # e.g. "encoder, float32, compute-bound", or "prior"

    def basis(self) -> str:
        if self.runs == 0:
            return f"{self.value:.0%} (prior: no runs on this machine yet)"
        return f"{self.value:.0%} fitted on {self.runs} run{'s' if self.runs != 1 else ''} ({self.scope})"


@dataclass
class Fit:
    device: str
    profile: Profile
    groups: dict[tuple[str, str, str], tuple[float, int]] = field(default_factory=dict)
    overhead_ms: float = 0.5
    overhead_runs: int = 0
    memory_overhead_mb: float = PRIOR_MEMORY_OVERHEAD_MB
    memory_runs: int = 0
    observations: int = 0
    cases: int = 0

    def efficiency(self, kind: str, dtype: str, regime: str) -> Efficiency:
        found = self.groups.get((kind, dtype, regime))
        if found:
            return Efficiency(found[0], found[1], f"{kind}, {dtype}, {regime}-bound")
        pools = [
            (
                [v for (k, d, r), v in self.groups.items() if d == dtype and r == regime],
                f"any kind, {dtype}, {regime}-bound",
            ),
            ([v for (k, d, r), v in self.groups.items() if r == regime], f"any kind and dtype, {regime}-bound"),
        ]
        for pool, scope in pools:
            if pool:
                runs = sum(n for _, n in pool)
                value = statistics.median([e for e, _ in pool])
                return Efficiency(value, runs, f"{scope}; no {kind} {dtype} runs")
        return Efficiency(PRIOR_EFFICIENCY[regime], 0, "prior")

    def overhead_basis(self) -> str:
        if self.overhead_runs:
            return f"{self.overhead_ms:.2f} ms per layer call fitted on {self.overhead_runs} runs"
        return f"{self.overhead_ms:.2f} ms per layer call (prior for eager PyTorch on {self.device}: no runs yet)"

    def memory_basis(self) -> str:
        if self.memory_runs:
            return f"runtime overhead {self.memory_overhead_mb:.0f} MiB fitted on {self.memory_runs} runs"
        return f"runtime overhead {self.memory_overhead_mb:.0f} MiB (prior: no runs yet)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": {
                f"{k}/{d}/{r}": {"efficiency": e, "runs": n} for (k, d, r), (e, n) in sorted(self.groups.items())
            },
            "overhead_ms_per_layer_call": self.overhead_ms,
            "overhead_runs": self.overhead_runs,
            "memory_overhead_mb": self.memory_overhead_mb,
            "memory_runs": self.memory_runs,
            "observations": self.observations,
            "cases": self.cases,
        }


def ideal_ms(profile: Profile, dtype: str, flops: float, bytes_: float) -> tuple[float, float]:
    """Time at 100% of the peak and of the bandwidth, in ms."""
    peak, _ = profile.peak(dtype)
    bandwidth, _ = profile.bandwidth()
    return flops / (peak * 1e9) * 1e3, bytes_ / (bandwidth * 1e9) * 1e3


def phase_ms(fit: Fit, kind: str, dtype: str, flops: float, bytes_: float, layer_calls: float) -> tuple[float, str]:
    """Modelled time of a phase and its regime."""
    compute, bandwidth = ideal_ms(fit.profile, dtype, flops, bytes_)
    tc = compute / fit.efficiency(kind, dtype, "compute").value
    tb = bandwidth / fit.efficiency(kind, dtype, "bandwidth").value
    regime = "compute" if tc >= tb else "bandwidth"
    return max(tc, tb) + layer_calls * fit.overhead_ms, regime


def fit(
    observations: Iterable[Observation],
    profile: Profile,
    *,
    memory: Iterable[MemoryObservation] = (),
    exclude: tuple[str, int, int] | None = None,
    iterations: int = 4,
) -> Fit:
    obs = [o for o in observations if o.case != exclude and o.measured_ms > 0]
    result = Fit(profile.device, profile, overhead_ms=PRIOR_OVERHEAD_MS.get(profile.device, 0.5))
    result.observations = len(obs)
    result.cases = len({(o.case, o.dtype) for o in obs})
    ideal = [ideal_ms(profile, o.dtype, o.flops, o.bytes) for o in obs]
    for _ in range(iterations):
        samples: dict[tuple[str, str, str], list[float]] = {}
        cases: dict[tuple[str, str, str], set[Any]] = {}
        for o, (compute, bandwidth) in zip(obs, ideal, strict=True):
            _, regime = phase_ms(result, o.kind, o.dtype, o.flops, o.bytes, o.layer_calls)
            rest = o.measured_ms - o.layer_calls * result.overhead_ms
            if rest < OVERHEAD_DOMINATED * o.measured_ms:
                continue  # the framework's overhead dominates: it says little about the efficiency
            key = (o.kind, o.dtype, regime)
            samples.setdefault(key, []).append((compute if regime == "compute" else bandwidth) / rest)
            cases.setdefault(key, set()).add(o.case)
        result.groups = {
            key: (min(2.0, max(0.01, statistics.median(values))), len(cases[key])) for key, values in samples.items()
        }
        overheads = []
        overhead_cases = set()
        for o in obs:
            modelled, _ = phase_ms(result, o.kind, o.dtype, o.flops, o.bytes, 0)
            share = o.layer_calls * result.overhead_ms / max(o.measured_ms, 1e-9)
            if share >= OVERHEAD_DOMINATED and o.layer_calls:
                overheads.append(max(0.0, (o.measured_ms - modelled) / o.layer_calls))
                overhead_cases.add(o.case)
        if overheads:
            result.overhead_ms = max(0.005, statistics.median(overheads))
            result.overhead_runs = len(overhead_cases)
    extra = [m.measured_mb - m.modelled_mb for m in memory if m.case != exclude and m.measured_mb > 0]
    if extra:
        result.memory_overhead_mb = max(0.0, statistics.median(extra))
        result.memory_runs = len(extra)
    return result
