"""Refine the cost model with this machine's own benchmark results.

Each stored result (status ok, this machine, this device) becomes one observation per phase (forward, or prefill
and decode): the phase's FLOPs, bytes and layer calls (recorded with the result under details["estimate"], or
recomputed from the model's config when it can be found) and the time measured. The fit is:

    time = ideal time of the phase's regime / efficiency
           + layer calls x overhead per layer call + forwards x overhead per forward
           + matmul calls x the calibrated cost of a matmul call at the dtype

    ideal compute time = sum over parts of FLOPs / rate at the part's rows; ideal memory time = bytes / bandwidth

with one efficiency per architecture kind x dtype x regime and the framework's overheads (per layer call, per
forward: they dominate small models and decode steps), solved together by weighted least squares on relative
errors, with outliers down-weighted. The rate of a matmul depends on its rows (the calibration's curve: a decode
step's matrix-vector products run far below the peak, and bfloat16 ones on a CPU below float32's), and each matmul
call has a fixed cost per dtype, also calibrated (known terms, not fitted: bfloat16 kernels on a CPU take tens of
µs to set up, which a decode step of a small model pays at every linear layer).

The regime of a phase (compute-bound or bandwidth-bound) is the larger of its two ideal times at the calibrated
rates: a property of the work on this machine, decided once before fitting, never from the efficiencies being
fitted (a regime re-decided from them let one case left out move others to the other regime, and a group then
lost all its runs). A group without observations borrows from the same dtype and regime, then the same regime,
then the prior, and the basis says which. Memory: the runtime's fixed overhead is the median of measured peak
minus the modelled weights, activations and KV cache.

Leave-one-out: `exclude` drops every observation of one (model, batch size, sequence length), so a case is never
estimated from its own run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from catalog.costmodel.machine import Profile

PRIOR_EFFICIENCY = {"compute": 0.6, "bandwidth": 0.6}
PRIOR_OVERHEAD_MS = {"cpu": 0.5, "cuda": 0.08, "mps": 0.15}  # per layer call: eager PyTorch dispatch
PRIOR_MEMORY_OVERHEAD_MB = 40.0
PRIOR_WEIGHT = 0.05  # of one observation: the priors only decide what the runs leave open
POOL_WEIGHT = 1.0  # a kind's efficiency is pulled to its dtype x regime level as strongly as by one run
# Above the calibrated figures: a little (the calibration is a best-of on a busy machine; a copy reads and writes,
# a decode step mostly reads).
MAX_EFFICIENCY = {"compute": 1.25, "bandwidth": 1.5}
OUTLIER = 0.3  # relative residual beyond which an observation's weight shrinks


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
    calls: int = 1
    run_id: int | None = None
    result_id: int | None = None
    parts: tuple[tuple[float, float], ...] = ()  # (matmul rows, FLOPs); () = all at the peak
    matmuls: float = 0  # matmul calls, each at the calibrated fixed cost per call

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
    overhead_ms: float = 0.5  # per layer call
    call_overhead_ms: float = 0.5  # per forward (a decode step is one)
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
                value = median([e for e, _ in pool])
                return Efficiency(value, runs, f"{scope}; no {kind} {dtype} runs")
        return Efficiency(PRIOR_EFFICIENCY[regime], 0, "prior")

    def overhead_basis(self) -> str:
        what = f"{self.overhead_ms:.3f} ms per layer call + {self.call_overhead_ms:.3f} ms per forward"
        if self.overhead_runs:
            return f"{what} fitted on {self.overhead_runs} runs"
        return f"{what} (prior for eager PyTorch on {self.device}: no runs yet)"

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
            "overhead_ms_per_forward": self.call_overhead_ms,
            "overhead_runs": self.overhead_runs,
            "memory_overhead_mb": self.memory_overhead_mb,
            "memory_runs": self.memory_runs,
            "observations": self.observations,
            "cases": self.cases,
        }


def median(values: Iterable[float]) -> float:
    """The median (statistics.median without importing statistics, which pulls in fractions and decimal: this
    module is on `catalog recommend`'s path)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of no values")
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def ideal_ms(
    profile: Profile,
    dtype: str,
    flops: float,
    bytes_: float,
    calls: int = 1,
    parts: Iterable[Iterable[float]] = (),
) -> tuple[float, float]:
    """Time at 100% of the calibrated matmul rate (each part at the rate for its rows; without parts, all at the
    peak) and of the bandwidth (at the working set of one call: a small model's weights are read from the caches
    at every decode step), in ms."""
    bandwidth = profile.bandwidth_at(bytes_ / max(1, calls))
    pairs = [(float(rows), float(f)) for rows, f in parts]
    total = sum(f for _, f in pairs)
    if total > 0:
        seconds = sum(f / (profile.peak_at(dtype, rows) * 1e9) for rows, f in pairs) * flops / total
    else:
        peak, _ = profile.peak(dtype)
        seconds = flops / (peak * 1e9)
    return seconds * 1e3, bytes_ / (bandwidth * 1e9) * 1e3


def regime_of(compute_ms: float, bandwidth_ms: float) -> str:
    """The regime of a phase from its ideal times (ideal_ms): the larger one bounds it; a tie is compute-bound."""
    return "compute" if compute_ms >= bandwidth_ms else "bandwidth"


def phase_ms(
    fit: Fit,
    kind: str,
    dtype: str,
    flops: float,
    bytes_: float,
    layer_calls: float,
    calls: int = 1,
    parts: Iterable[Iterable[float]] = (),
    matmuls: float = 0,
) -> tuple[float, str]:
    """Modelled time of a phase and its regime (`parts`: the phase's FLOPs by matmul rows, `matmuls`: its matmul
    calls; see counts.Phase): the ideal time of its regime (regime_of) at the fitted efficiency of that regime, plus
    the overheads and the calibrated cost of its matmul calls."""
    compute, bandwidth = ideal_ms(fit.profile, dtype, flops, bytes_, calls, parts)
    regime = regime_of(compute, bandwidth)
    ideal = compute if regime == "compute" else bandwidth
    fixed = layer_calls * fit.overhead_ms + calls * fit.call_overhead_ms + matmuls * fit.profile.matmul_call_ms(dtype)
    return ideal / fit.efficiency(kind, dtype, regime).value + fixed, regime


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the systems here have a dozen unknowns at most)."""
    n = len(vector)
    a = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        if abs(a[col][col]) < 1e-12:
            continue
        for r in range(n):
            if r != col:
                factor = a[r][col] / a[col][col]
                if factor:
                    a[r] = [x - factor * y for x, y in zip(a[r], a[col], strict=True)]
    return [a[i][n] / a[i][i] if abs(a[i][i]) >= 1e-12 else 0.0 for i in range(n)]


def _least_squares(
    obs: list[Observation],
    ideal: list[tuple[float, float]],
    keys: list[tuple[str, ...]],
    weights: list[float],
    prior_k: dict[tuple[str, ...], float],
    prior_weight: float,
    prior_overheads: tuple[float, float],
    overhead_weight: float,
    known: list[float],
) -> tuple[dict[tuple[str, ...], float], tuple[float, float]]:
    """Solve time_i / measured_i ~ 1 for k per group (ideal x k) and the overheads (per layer call, per forward),
    each pulled to its prior. (One per-layer overhead for forwards and decode steps alike: with few decode runs, a
    separate one followed the noise.) `known`: each observation's calibrated matmul-call time, not fitted."""
    groups = sorted(set(keys))
    n = len(groups) + 2
    index = {key: i for i, key in enumerate(groups)}
    ata = [[0.0] * n for _ in range(n)]
    atb = [0.0] * n

    def add(row: dict[int, float], weight: float, target: float = 1.0) -> None:
        for i, x in row.items():
            atb[i] += weight * x * target
            for j, y in row.items():
                ata[i][j] += weight * x * y

    for o, (compute, bandwidth), key, w, fixed in zip(obs, ideal, keys, weights, known, strict=True):
        base = compute if key[-1] == "compute" else bandwidth
        row = {index[key]: base / o.measured_ms, n - 2: o.layer_calls / o.measured_ms, n - 1: o.calls / o.measured_ms}
        add(row, w, 1.0 - fixed / o.measured_ms)  # the calibrated matmul-call costs are known, not fitted
    for key, i in index.items():
        add({i: 1 / prior_k[key]}, prior_weight)
    for offset, prior in zip((2, 1), prior_overheads, strict=True):
        add({n - offset: 1 / max(prior, 1e-3)}, overhead_weight)
    solution = _solve(ata, atb)
    ks = {}
    for key, i in index.items():
        low = 1 / MAX_EFFICIENCY[key[-1]]
        ks[key] = min(max(solution[i], low), 200.0)
    return ks, (max(0.0, solution[n - 2]), max(0.0, solution[n - 1]))


def fit(
    observations: Iterable[Observation],
    profile: Profile,
    *,
    memory: Iterable[MemoryObservation] = (),
    exclude: tuple[str, int, int] | None = None,
    iterations: int = 3,
) -> Fit:
    """Weighted least squares on relative errors: time_i = k x ideal_i + overhead x layer calls_i + call overhead x
    calls_i (k = 1 / efficiency). Two levels: first one k per dtype x regime (with the overheads), pulled weakly to
    the priors; then one k per kind x dtype x regime, pulled to its dtype x regime level, so that a kind with one
    run moves only as far as that run justifies. Outliers (a shared machine now and then stalls a run) are
    down-weighted."""
    obs = [o for o in observations if o.case != exclude and o.measured_ms > 0]
    prior_overhead = PRIOR_OVERHEAD_MS.get(profile.device, 0.5)
    result = Fit(profile.device, profile)
    result.overhead_ms = result.call_overhead_ms = prior_overhead
    result.observations = len(obs)
    result.cases = len({(o.case, o.dtype) for o in obs})
    if not obs:
        return _memory(result, memory, exclude)
    ideal = [ideal_ms(profile, o.dtype, o.flops, o.bytes, o.calls, o.parts) for o in obs]
    known = [o.matmuls * profile.matmul_call_ms(o.dtype) for o in obs]
    keys = [(o.kind, o.dtype, regime_of(*times)) for o, times in zip(obs, ideal, strict=True)]
    weights = [1.0] * len(obs)
    for _ in range(iterations):
        pooled_keys: list[tuple[str, ...]] = [(key[1], key[2]) for key in keys]
        pooled, overheads = _least_squares(
            obs, ideal, pooled_keys, weights, {k: 1 / PRIOR_EFFICIENCY[k[-1]] for k in set(pooled_keys)},
            PRIOR_WEIGHT, (prior_overhead, prior_overhead), PRIOR_WEIGHT, known,
        )  # fmt: skip
        ks, overheads = _least_squares(
            obs, ideal, list(keys), weights, {k: pooled[(k[1], k[2])] for k in set(keys)},
            POOL_WEIGHT, overheads, POOL_WEIGHT, known,
        )  # fmt: skip
        cases: dict[tuple[str, ...], set[Any]] = {}
        for o, key in zip(obs, keys, strict=True):
            cases.setdefault(key, set()).add(o.case)
        result.groups = {(k[0], k[1], k[2]): (1.0 / ks[k], len(cases[k])) for k in ks}
        result.overhead_ms, result.call_overhead_ms = overheads
        result.overhead_runs = len({o.case for o in obs})
        residuals = []
        for o in obs:
            modelled, _ = phase_ms(
                result, o.kind, o.dtype, o.flops, o.bytes, o.layer_calls, o.calls, o.parts, o.matmuls
            )
            residuals.append(abs(modelled - o.measured_ms) / o.measured_ms)
        weights = [1.0 if r <= OUTLIER else OUTLIER / r for r in residuals]
    return _memory(result, memory, exclude)


def _memory(result: Fit, memory: Iterable[MemoryObservation], exclude: tuple[str, int, int] | None) -> Fit:
    extra = [m.measured_mb - m.modelled_mb for m in memory if m.case != exclude and m.measured_mb > 0]
    if extra:
        result.memory_overhead_mb = max(0.0, median(extra))
        result.memory_runs = len(extra)
    return result
