"""The recommender's estimates for catalog rows that nothing measured: latency and memory from a parameter count
and a family, through the same cost model and this machine's fit as `catalog estimate`.

Built once per `catalog recommend` (the calibration is read from its cache, never measured here; the fit reads
this machine's stored results, using the terms stored with them), then a dictionary look-up per candidate: latency
is computed once per 1% step of parameter count and typical model type (CatalogEstimator.latencies), and the steps
are kept in the data dir for the next run of the same estimate (see "latency tables" below); memory, bases and
--fits advice are computed for the rows shown.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any

from catalog.costmodel import machine
from catalog.costmodel.arch import Architecture, derive, typical_type
from catalog.costmodel.counts import phases
from catalog.costmodel.estimator import History
from catalog.costmodel.fit import Fit, phase_ms
from catalog.costmodel.memory import MB, estimate_memory

# catalog architecture ids -> the cost model's kinds (and a typical model type for the size limit)
ARCHITECTURE_TYPES = {
    "encoder-only": "bert",
    "decoder-only": "llama",
    "encoder-decoder": "t5",
    "vision-transformer": "vit",
    "speech-encoder": "wav2vec2",
    "spectrogram-transformer": "vit",
    "detection-transformer": "vit",
    "vision-language": "llama",
    "convolutional": "vit",
}


@functools.lru_cache(maxsize=65536)
def _derived(params: int, family: str | None, task: str) -> Architecture | None:
    try:
        return derive(params, family, task)
    except Exception:
        return None


def _history_from_connection(conn: Any, device: str, machine_id: str | None) -> History:
    """Stored results with their recorded terms only (no config look-ups: this runs inside `catalog recommend`), at
    the default thread count (the recommender speaks of it)."""
    if machine_id is None:
        return History()
    from catalog.costmodel.history import history_from_connection

    return history_from_connection(conn, device, machine_id, reconstruct=False)


class CatalogEstimator:
    """Latency and memory Figures' values and bases for candidates of one recommendation (task, shape, dtype)."""

    def __init__(
        self, conn: Any, task: str, batch: int, seq_len: int, dtype: str, device: str = "cpu", weights_dtype: str = ""
    ) -> None:
        self.task, self.batch, self.seq_len, self.dtype, self.device = task, batch, seq_len, dtype, device
        self.weights_dtype = weights_dtype or dtype  # int8 / int4: quantised weights, computed in float32
        self.profile = machine.profile(device)
        try:
            history = _history_from_connection(conn, device, self.profile.machine_id)
        except Exception:  # an older database without results: the priors, said as such
            history = History()
        self.fit: Fit = history.fit(self.profile)
        self.runs = self.fit.cases
        peak_text = self.profile.peak(dtype if dtype in self.profile.gflops else "float32")[1]
        calibration = "" if self.profile.measured else f"; {peak_text}"
        fit_text = f"fit on {self.runs} runs here" if self.runs else "priors: no runs here yet"
        self._suffix = f"{fit_text}{calibration}"
        self._latency: dict[tuple[int, str | None], float | None] = {}
        # latency by (1% step on the log scale, typical model type): derive() reads the family only through
        # typical_type(family, task), so families of one typical type share a shape (latencies' table)
        self._by_step: dict[tuple[int, str | None], float | None] = {}
        self._types: dict[str | None, str | None] = {}
        self._table_read = False  # the steps computed by earlier runs of the same estimate (see _table_key)
        # Per derived shape (thousands of candidates share a few hundred): memory besides the weights, and bases.
        self._memory_rest: dict[tuple[int, str | None, str], float | None] = {}
        self._latency_basis: dict[tuple[int, str | None], str] = {}
        self._memory_basis: dict[str | None, str] = {}

    def _arch(self, params: int, family: str | None) -> Architecture | None:
        return _derived(_rounded(params), family, self.task)

    def latency_ms(self, params: int, family: str | None) -> float | None:
        key = (_rounded(params), family)
        if key not in self._latency:
            arch = self._arch(params, family)
            value = None
            if arch is not None:
                work = phases(arch, self.task, self.batch, self.seq_len, self.dtype)
                value = sum(
                    phase_ms(
                        self.fit, arch.kind, self.dtype, p.flops, p.bytes, p.layer_calls, p.calls, p.parts, p.matmuls
                    )[0]
                    for p in work
                )
            self._latency[key] = value
        return self._latency[key]

    def latencies(self, wanted: Iterable[tuple[int, str | None]]) -> list[float | None]:
        """latency_ms for each (params, family), the same values, at a dictionary look-up each once the shapes are
        known: the rounding of _rounded is done inline and shapes are shared per typical model type (a million
        candidates, a few thousand cost-model runs)."""
        log, grid, by_step, types = math.log, _GRID, self._by_step, self._types
        if not self._table_read:
            self._table_read = True
            by_step.update(_read_table(self._table_key()))
        known = len(by_step)
        out: list[float | None] = []
        append = out.append
        for params, family in wanted:
            params = int(params)
            kind = types[family] if family in types else self._type_of(family)
            key = (round(log(params) / grid) if params >= 1000 else -max(params, 1), kind)
            if key in by_step:
                append(by_step[key])
            else:
                append(by_step.setdefault(key, self.latency_ms(params, family)))
        if len(by_step) > known:
            _write_table(self._table_key(), by_step)
        return out

    def _table_key(self) -> str:
        """What the steps' values depend on: the cost model's code, this machine's fit (with its profile: every
        field, in its repr), the task, batch, sequence length, dtype and device, and the Python version."""
        import hashlib
        import sys

        text = repr((self.task, self.batch, self.seq_len, self.dtype, self.device, self.fit, sys.version_info[:3]))
        return hashlib.sha256(f"{_code_digest()}\n{text}".encode()).hexdigest()[:32]

    def _type_of(self, family: str | None) -> str | None:
        try:
            kind: str | None = typical_type(family, self.task)
        except Exception:  # as _derived: no shape, no figure (None never shares with a real type)
            kind = None if family is None else f"?{family}"
        self._types[family] = kind
        return kind

    def latency_basis(self, params: int, family: str | None) -> str:
        key = (_rounded(params), family)
        if key not in self._latency_basis:
            arch = self._arch(params, family)
            shape = (
                f"{arch.layers} layers x {arch.hidden} ({typical_type(family, self.task)} proportions)"
                if arch
                else "no shape"
            )
            self._latency_basis[key] = (
                f"cost model: {key[0] / 1e6:.0f}M params as {shape}, batch {self.batch} x {self.seq_len} tokens, "
                f"{self.dtype}; {self._suffix}"
            )
        return self._latency_basis[key]

    def memory_bytes(self, params: int, family: str | None, option: str | None = None) -> float | None:
        """Estimated peak memory with the weights at `option` (default: the dtype asked for): the candidate's own
        weights plus what its derived shape needs besides them (activations, KV cache, overhead), computed once per
        shape."""
        compute, weights = _compute_and_weights(option or self.weights_dtype)
        key = (_rounded(params), family, compute)
        if key not in self._memory_rest:
            arch = self._arch(params, family)
            self._memory_rest[key] = (
                None
                if arch is None
                else _total_memory(arch, self.task, self.batch, self.seq_len, compute, 0.0, self.fit.memory_overhead_mb)
            )
        rest = self._memory_rest[key]
        return None if rest is None else params * _bytes(weights) + rest

    def memory_basis(self, option: str | None = None) -> str:
        if option not in self._memory_basis:
            self._memory_basis[option] = (
                f"cost model: {option or self.weights_dtype} weights + activations and KV cache at batch "
                f"{self.batch} x {self.seq_len} + {self.fit.memory_basis()}"
            )
        return self._memory_basis[option]


_GRID = math.log(1.01)  # 1% steps on a log scale


def _rounded(params: int) -> int:
    """The centre of the candidate's 1% step on a log scale (0.5% from it at most): candidates of nearly the same
    size share one derived shape and one estimate, so a million candidates need a few thousand cost-model runs."""
    params = int(params)
    if params < 1000:
        return max(params, 1)
    return round(math.exp(round(math.log(params) / _GRID) * _GRID))


def _total_memory(
    arch: Architecture, task: str, batch: int, seq_len: int, compute: str, weights: float, overhead_mb: float
) -> float:
    """Estimated peak memory: `weights` bytes (at any dtype or quantisation), activations and KV cache computed at
    `compute`, and the runtime overhead."""
    memory = estimate_memory(
        arch, task, batch, seq_len, compute, overhead_bytes=overhead_mb * MB, weights_override=weights
    )
    return memory.total


def _bytes(dtype: str) -> float:
    from catalog.costmodel.counts import BYTES_PER_PARAM

    return BYTES_PER_PARAM.get(dtype, 4)


def largest_params(
    limit_bytes: float,
    architecture: str | None,
    task: str,
    batch: int,
    seq_len: int,
    dtype: str,
    overhead_mb: float = 40.0,
    weights_dtype: str | None = None,
) -> int:
    """The largest parameter count whose estimated memory fits in limit_bytes (for the SQL size clause)."""
    model_type = ARCHITECTURE_TYPES.get(architecture or "") or typical_type(None, task)

    def total(params: float) -> float:
        arch = _derived(int(params), model_type, task)
        weights = params * _bytes(weights_dtype or dtype)
        return weights if arch is None else _total_memory(arch, task, batch, seq_len, dtype, weights, overhead_mb)

    low, high = 1e5, max(2e5, limit_bytes / _bytes(weights_dtype or dtype))
    if total(low) > limit_bytes:
        return 0
    for _ in range(20):
        mid = (low * high) ** 0.5
        if total(mid) <= limit_bytes:
            low = mid
        else:
            high = mid
    return int(low)


def recommend_estimator(conn: Any, constraints: Any, task_id: str) -> CatalogEstimator:
    """The estimator for one `catalog recommend` (its task, batch x sequence length and dtype)."""
    dtype = constraints.dtype if constraints.dtype in ("float32", "bfloat16", "float16") else "float32"
    return CatalogEstimator(
        conn, task_id, constraints.batch_size, constraints.seq_len, dtype, weights_dtype=constraints.dtype
    )


def latency_estimate(estimator: CatalogEstimator, params: int, family: str | None) -> tuple[float, str] | None:
    """(ms, basis) for a candidate nothing measured; None when no shape can be derived."""
    value = estimator.latency_ms(params, family)
    return None if value is None else (value, estimator.latency_basis(params, family))


def memory_estimate(estimator: CatalogEstimator, params: int, family: str | None) -> tuple[float, str] | None:
    """(bytes, basis) for a candidate nothing measured; None when no shape can be derived."""
    value = estimator.memory_bytes(params, family)
    return None if value is None else (value, estimator.memory_basis())


# Weights a model can be run with when it does not fit at the dtype asked for, smallest last. bfloat16: any model
# (torch casts it); int8: torch's dynamic quantisation of the linear layers (transformers, not convolutions);
# Q4: a 4-bit GGUF in llama.cpp, which runs decoder-only (and vision-language) models.
FIT_OPTIONS = ("float32", "bfloat16", "int8", "int4")
FIT_LABELS = {"int4": "Q4"}
_INT8_NOT = frozenset({"convolutional"})
_INT4_ONLY = frozenset({"decoder-only", "vision-language"})
_SIZES = {"float32": 4.0, "float16": 2.0, "bfloat16": 2.0, "int8": 1.0, "int4": 0.5}


def fit_label(option: str) -> str:
    """How the table names a fit option: float32, bfloat16, int8, Q4."""
    return FIT_LABELS.get(option, option)


def smaller_options(dtype: str, architecture: str | None) -> tuple[str, ...]:
    """The dtypes or quantisations smaller than `dtype` that a model of this catalog architecture can run in."""
    size = _SIZES.get(dtype, 4.0)
    options = []
    for option in FIT_OPTIONS:
        if _SIZES[option] >= size:
            continue
        if option == "int8" and architecture in _INT8_NOT:
            continue
        if option == "int4" and architecture not in _INT4_ONLY:
            continue
        options.append(option)
    return tuple(options)


def _compute_and_weights(dtype: str) -> tuple[str, str]:
    """(activations and KV cache dtype, weights dtype): int8 weights (torch's dynamic quantisation) compute in
    float32; Q4 runs in llama.cpp, whose KV cache is float16 by default."""
    weights_dtype = dtype if dtype in _SIZES else "float32"
    compute = {"int8": "float32", "int4": "float16"}.get(weights_dtype, weights_dtype)
    return compute, weights_dtype


def _known(architecture: str | None) -> str | None:
    return architecture if architecture in ARCHITECTURE_TYPES else None


def fits_in(limit_bytes: float, params: int, architecture: str | None, task: str, batch: int, seq_len: int,
            dtype: str) -> bool:  # fmt: skip
    """Whether a model of `params` parameters fits at `dtype` by the same rule memory_clause writes in SQL."""
    largest = _largest_cached(limit_bytes, _known(architecture), task, batch, seq_len, *_compute_and_weights(dtype))
    return params <= largest


def fitting_option(
    limit_bytes: float, params: int, architecture: str | None, task: str, batch: int, seq_len: int, dtype: str
) -> str | None:
    """The first dtype or quantisation smaller than `dtype` in which the model fits (None: none does)."""
    for option in smaller_options(dtype, architecture):
        if fits_in(limit_bytes, params, architecture, task, batch, seq_len, option):
            return option
    return None


def fit_advice(
    estimator: CatalogEstimator, limit_bytes: float, params: int, family: str | None, architecture: str | None
) -> dict[str, Any] | None:
    """For a candidate that does not fit in limit_bytes at the dtype asked for: the first smaller dtype or
    quantisation it fits in, with its estimated memory and basis (None: it fits as asked, or in nothing smaller)."""
    task, batch, seq_len, dtype = estimator.task, estimator.batch, estimator.seq_len, estimator.weights_dtype
    if fits_in(limit_bytes, params, architecture, task, batch, seq_len, dtype):
        return None
    option = fitting_option(limit_bytes, params, architecture, task, batch, seq_len, dtype)
    if option is None:
        return None
    memory = estimator.memory_bytes(params, family, option)
    note = {
        "bfloat16": "torch casts the weights (torch_dtype=torch.bfloat16)",
        "int8": "dynamic int8 quantisation of the linear layers (torch.ao)",
        "int4": "a 4-bit GGUF (Q4) in llama.cpp",
    }.get(option, "")
    return {
        "dtype": option,
        "label": fit_label(option),
        "memory_bytes": memory,
        "limit_bytes": limit_bytes,
        "basis": f"estimated: {estimator.memory_basis(option)}",
        "runtime": note,
    }


def memory_clause(
    bind: Any, limit_bytes: float, task: str, batch: int, seq_len: int, dtype: str, *, smaller: bool = False
) -> str:
    """SQL (a condition on models; `bind(value)` returns a parameter's placeholder): the models whose estimated
    memory (weights at the dtype or quantisation, activations and KV cache at the batch and context, runtime
    overhead) fits in limit_bytes, per catalog architecture. `smaller`: also those that fit only at a smaller dtype
    or quantisation their architecture can run in (smaller_options)."""
    conditions = []
    others = f"(models.architecture_id IS NULL OR models.architecture_id NOT IN {bind(list(ARCHITECTURE_TYPES))})"
    for architecture in (*ARCHITECTURE_TYPES, None):
        where = f"models.architecture_id = {bind(architecture)}" if architecture else others
        options = (dtype, *smaller_options(dtype, architecture)) if smaller else (dtype,)
        largest = max(
            _largest_cached(limit_bytes, architecture, task, batch, seq_len, *_compute_and_weights(option))
            for option in options
        )
        conditions.append(f"({where} AND models.params <= {bind(int(largest))})")
    return "(" + " OR ".join(conditions) + ")"


@functools.lru_cache(maxsize=256)
def _largest_cached(
    limit_bytes: float, architecture: str | None, task: str, batch: int, seq_len: int, compute: str, weights: str
) -> int:
    return largest_params(limit_bytes, architecture, task, batch, seq_len, compute, weights_dtype=weights)


# ------------------------------------------------------------------------------------------------ latency tables
# CatalogEstimator.latencies keeps the latency of every 1% step it computed in the data dir, keyed by everything
# the value depends on (_table_key), so the next `catalog recommend` of the same estimate reads them back (a few
# thousand steps cost the cost model ~0.3 s) and computes only steps it has not seen. A changed cost model, fit,
# calibration, task or shape is another key; any problem with a table means computing again.

TABLES_KEPT = 16


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """The cost model's source files: an edited model never reads a table the old one wrote."""
    import hashlib
    from pathlib import Path

    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _table_name(key: str) -> str:
    return f"latency-steps-{key}.json"  # in the data dir's cache folder


def _read_table(key: str) -> dict[tuple[int, str | None], float | None]:
    from catalog import settings

    rows = settings.read_cache(_table_name(key))
    table: dict[tuple[int, str | None], float | None] = {}
    try:
        for step, kind, value in rows:
            if type(step) is not int or not (kind is None or isinstance(kind, str)):
                return {}
            if not (value is None or type(value) is float):
                return {}
            table[(step, kind)] = value
    except (TypeError, ValueError):  # missing (None) or not a list of triples
        return {}
    return table


def _write_table(key: str, table: dict[tuple[int, str | None], float | None]) -> None:
    from catalog import settings

    rows = [[step, kind, value] for (step, kind), value in table.items()]
    settings.write_cache(_table_name(key), rows, replaces="latency-steps-*.json", keep=TABLES_KEPT)
