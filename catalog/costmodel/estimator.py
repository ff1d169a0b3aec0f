"""Estimates in the shape of a benchmark result: latency, prefill and decode, throughput, memory, each with its
basis, an interval learned from this machine's estimate-versus-measured errors, and fit advice (which dtype fits,
the largest batch, the expected tokens/s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from catalog.costmodel.arch import Architecture, UnsupportedConfigError, derive, from_config
from catalog.costmodel.counts import BYTES_PER_PARAM, GENERATION_TASKS, Phase, phases
from catalog.costmodel.fit import Fit, MemoryObservation, Observation, fit, phase_ms
from catalog.costmodel.machine import Profile
from catalog.costmodel.memory import MB, estimate_memory
from catalog.errors import EstimateError

if TYPE_CHECKING:  # annotations only: `catalog recommend` never resolves a model spec
    from catalog.costmodel.source import ModelSource

ADVICE_DTYPES = ("float32", "bfloat16", "int8", "int4")


def architecture(source: ModelSource, task: str) -> Architecture:
    try:
        if source.config is not None:
            return from_config(source.config, task)
        if source.params:
            return derive(source.params, source.model_type, task)
    except UnsupportedConfigError as exc:
        raise EstimateError(f"{source.name}: cannot estimate {exc}.") from exc
    raise EstimateError(f"{source.name}: neither a config nor a parameter count to estimate from.")


def terms(
    arch: Architecture,
    task: str,
    batch: int,
    seq_len: int,
    dtype: str,
    *,
    new_tokens: int = 16,
    audio_seconds: float = 5.0,
    weights_bytes: float | None = None,
) -> dict[str, Any]:
    """Everything about one case that does not depend on this machine: the work per phase and the modelled memory
    (without the runtime overhead). Stored with each bench result so later fits need no config."""
    work = phases(arch, task, batch, seq_len, dtype, new_tokens=new_tokens, audio_seconds=audio_seconds)
    memory = estimate_memory(
        arch,
        task,
        batch,
        seq_len,
        dtype,
        new_tokens=new_tokens,
        audio_seconds=audio_seconds,
        weights_override=weights_bytes,
    )
    return {
        "kind": arch.kind,
        "model_type": arch.model_type,
        "positions": arch.tokens(seq_len, audio_seconds),
        "params": arch.total_params,
        "layers": arch.layers,
        "phases": [p.to_dict() for p in work],
        "memory_bytes": {"weights": memory.weights, "activations": memory.activations, "kv_cache": memory.kv_cache},
        "derived": arch.derived,
        "new_tokens": new_tokens,
    }


def _phase_objects(record: dict[str, Any]) -> list[Phase]:
    return [Phase(**p) for p in record["phases"]]


@dataclass
class Interval:
    low: float  # multipliers of the estimate
    high: float
    runs: int

    def apply(self, value: float) -> list[float]:
        return [value * self.low, value * self.high]


def predict(record: dict[str, Any], fit_: Fit, dtype: str) -> dict[str, Any]:
    """Modelled times and memory of one case's terms on this machine, with the basis of each figure."""
    kind = record["kind"]
    profile = fit_.profile
    peak, peak_basis = profile.peak(dtype)
    bandwidth, bandwidth_basis = profile.bandwidth()
    out: dict[str, Any] = {"phases": {}}
    total = 0.0
    for phase in _phase_objects(record):
        ms, regime = phase_ms(
            fit_, kind, dtype, phase.flops, phase.bytes, phase.layer_calls, phase.calls, phase.parts, phase.matmuls
        )
        efficiency = fit_.efficiency(kind, dtype, regime)
        per_call = ms / phase.calls if phase.calls else 0.0
        what = f"{phase.flops / 1e9:.3g} GFLOP" if regime == "compute" else f"{phase.bytes / 1e6:.4g} MB moved"
        rate = peak_basis
        if regime == "compute" and phase.parts and profile.rows_curve.get(dtype):
            rows, _ = max(phase.parts, key=lambda part: part[1])  # the part with most of the FLOPs
            plural = "s" if rows != 1 else ""
            rate = f"{profile.peak_at(dtype, rows):.0f} GFLOP/s for matmuls of {rows:.0f} row{plural}; {peak_basis}"
        if regime == "bandwidth":
            working_set = phase.bytes / max(1, phase.calls)
            rate = (
                f"{profile.bandwidth_at(working_set):.1f} GB/s at a {working_set / 2**20:.0f} MiB working set; "
                f"{bandwidth_basis}"
            )
        out["phases"][phase.name] = {
            "ms": ms,
            "ms_per_call": per_call,
            "regime": f"{regime}-bound",
            "calls": phase.calls,
            "flops": phase.flops,
            "bytes": phase.bytes,
            "basis": f"{what} at {efficiency.basis()} of {rate}, + {phase.layer_calls:g} layer calls x "
            f"{fit_.overhead_basis()}"
            + (
                f" + {phase.matmuls:g} matmul calls x {profile.matmul_call_ms(dtype) * 1e3:.1f} µs (calibrated)"
                if phase.matmuls and profile.matmul_call_ms(dtype)
                else ""
            ),
        }
        total += ms
    memory = record["memory_bytes"]
    modelled = memory["weights"] + memory["activations"] + memory["kv_cache"]
    out["latency_ms"] = total
    out["peak_rss_mb"] = modelled / MB + fit_.memory_overhead_mb
    out["memory_basis"] = (
        f"weights {memory['weights'] / MB:.0f} MiB + activations {memory['activations'] / MB:.0f} MiB + KV cache "
        f"{memory['kv_cache'] / MB:.0f} MiB + {fit_.memory_basis()}"
    )
    out["peak"], out["bandwidth"] = peak, bandwidth
    return out


@dataclass
class History:
    """This machine's past results on one device, as fit observations and as rows to check against."""

    observations: list[Observation] = field(default_factory=list)
    memory: list[MemoryObservation] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per result: measured figures + terms

    def fit(self, profile: Profile, exclude: tuple[str, int, int] | None = None) -> Fit:
        return fit(self.observations, profile, memory=self.memory, exclude=exclude)

    def loo(self, profile: Profile) -> list[dict[str, Any]]:
        """Every past result estimated without the runs of its own model and shape, next to what was measured."""
        fits: dict[tuple[str, int, int], Fit] = {}
        checked = []
        for row in self.rows:
            case = (row["model"], row["batch_size"], row["seq_len"])
            if case not in fits:
                fits[case] = self.fit(profile, exclude=case)
            predicted = predict(row["terms"], fits[case], row["dtype"])
            checked.append(row | {"estimated": predicted})
        return checked

    def interval(self, profile: Profile) -> Interval | None:
        """The 10th-90th percentile of measured / estimated p50 over the leave-one-out estimates of past runs."""
        ratios = sorted(
            row["latency_p50_ms"] / row["estimated"]["latency_ms"]
            for row in self.loo(profile)
            if row.get("latency_p50_ms") and row["estimated"]["latency_ms"] > 0
        )
        if len(ratios) < 3:
            return None
        low = ratios[max(0, math.floor(0.1 * (len(ratios) - 1)))]
        high = ratios[min(len(ratios) - 1, math.ceil(0.9 * (len(ratios) - 1)))]
        return Interval(min(low, 1.0), max(high, 1.0), len(ratios))


def build_observations(
    row: dict[str, Any], record: dict[str, Any]
) -> tuple[list[Observation], MemoryObservation | None]:
    """The fit's observations of one stored result: one per phase with a measured time, and its memory."""
    out = []
    case = dict(
        model_id=row["model"],
        batch_size=row["batch_size"],
        seq_len=row["seq_len"],
        kind=record["kind"],
        dtype=row["dtype"],
        run_id=row.get("run_id"),
        result_id=row.get("id"),
    )
    for phase in _phase_objects(record):
        if phase.name == "forward":
            measured = row.get("latency_p50_ms")
        elif phase.name == "prefill":
            measured = row.get("prefill_ms")
        else:
            per_step = row.get("decode_ms_per_token")
            measured = per_step * phase.calls if per_step else None
        if measured:
            out.append(
                Observation(
                    phase=phase.name,
                    calls=max(1, phase.calls),
                    flops=phase.flops,
                    bytes=phase.bytes,
                    layer_calls=phase.layer_calls,
                    measured_ms=float(measured),
                    parts=tuple((float(rows), float(f)) for rows, f in phase.parts),
                    matmuls=phase.matmuls,
                    **case,
                )
            )
    memory = None
    if row.get("peak_rss_infer_mb"):
        m = record["memory_bytes"]
        memory = MemoryObservation(
            row["model"],
            row["batch_size"],
            row["seq_len"],
            (m["weights"] + m["activations"] + m["kv_cache"]) / MB,
            float(row["peak_rss_infer_mb"]),
        )
    return out, memory


def figures(
    source: ModelSource,
    arch: Architecture,
    task: str,
    batch: int,
    seq_len: int,
    dtype: str,
    device: str,
    fit_: Fit,
    *,
    new_tokens: int = 16,
    audio_seconds: float = 5.0,
    interval: Interval | None = None,
) -> dict[str, Any]:
    """One estimated case, keyed like `catalog bench run --format json`, kind "estimated"."""
    # weights at the dtype: a GGUF file's weights are dequantised to it when transformers loads it
    record = terms(arch, task, batch, seq_len, dtype, new_tokens=new_tokens, audio_seconds=audio_seconds)
    predicted = predict(record, fit_, dtype)
    p50 = predicted["latency_ms"]
    ph = predicted["phases"]
    shapes = arch.derived or source.basis
    basis: dict[str, str] = {"shapes": shapes}
    generating = "decode" in ph
    prefill = decode = None
    if generating:
        prefill = ph["prefill"]["ms"]
        decode = ph["decode"]["ms_per_call"] if ph["decode"]["calls"] else None
        basis["prefill_ms"] = f"{ph['prefill']['regime']}: {ph['prefill']['basis']}"
        basis["decode_ms_per_token"] = f"{ph['decode']['regime']}: {ph['decode']['basis']}"
        basis["latency_ms"] = f"prefill + {ph['decode']['calls']} decode steps (new tokens {new_tokens})"
    else:
        only = next(iter(ph.values()))
        basis["latency_ms"] = f"{only['regime']}: {only['basis']}"
    tokens_s = None
    if generating and decode:
        tokens_s = batch * 1000 / decode
    elif task not in ("image-classification", "object-detection", "image-segmentation") and arch.kind not in (
        "vision",
        "audio",
    ):
        tokens_s = batch * seq_len * 1000 / p50 if p50 > 0 else None
    if interval is not None:
        basis["interval"] = (
            f"10th-90th percentile of measured / estimated over {interval.runs} past runs on this machine "
            "(each estimated without its own model and shape)"
        )
    else:
        basis["interval"] = "fewer than 3 past runs on this machine: no interval yet (`catalog bench run` adds them)"
    basis["peak_rss_mb"] = predicted["memory_basis"]
    if source.gguf:
        basis["peak_rss_mb"] += (
            f"; the GGUF file's {source.gguf['dominant_type']} weights ({source.gguf['bits_per_weight']:.2f} "
            f"bits/weight) are dequantised to {dtype} as `catalog bench run` loads them with transformers: the "
            "quantised size is in the fit advice"
        )
    flops_forward = sum(p["flops"] for name, p in ph.items() if name != "decode")
    decode_bytes = ph["decode"]["bytes"] / ph["decode"]["calls"] if generating and ph["decode"]["calls"] else None
    weights_mb = record["memory_bytes"]["weights"] / MB
    return {
        "model": source.name,
        "task": task,
        "batch_size": batch,
        "seq_len": seq_len,
        "device": device,
        "dtype": dtype,
        "kind": "estimated",
        "architecture": arch.kind,
        "model_type": arch.model_type,
        "params": arch.total_params if not source.params else source.params,
        "latency_ms": {"p50": p50, "interval": interval.apply(p50) if interval else None},
        "throughput": {"items_s": batch * 1000 / p50 if p50 > 0 else None, "tokens_s": tokens_s},
        "prefill_ms": prefill,
        "decode_ms_per_token": decode,
        "peak_rss_mb": {"load": weights_mb + fit_.memory_overhead_mb, "inference": predicted["peak_rss_mb"]},
        "flops_per_forward": int(flops_forward),
        "bytes_per_decode_step": decode_bytes,
        "regime": {name: p["regime"] for name, p in ph.items()},
        "basis": basis,
        "terms": record,
        "provenance": f"estimated ({shapes}; fit on {fit_.cases} past runs here)",
    }


def advice(
    arch: Architecture,
    task: str,
    seq_len: int,
    dtype: str,
    fit_: Fit,
    memory_limit_bytes: float,
    where: str,
    *,
    new_tokens: int = 16,
    audio_seconds: float = 5.0,
    gguf: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Which dtypes or quantisations fit in `memory_limit_bytes` at this context, the largest batch that fits at
    each, and the expected tokens/s (items/s for images and audio) there."""
    options: list[tuple[str, float | None]] = [(d, None) for d in ADVICE_DTYPES]
    if gguf:
        options.insert(0, (f"gguf {gguf['dominant_type']}", float(gguf["weights_bytes"])))
    overhead = fit_.memory_overhead_mb * MB
    rows = []
    generating = task in GENERATION_TASKS and arch.decoder_layers > 0
    for name, weights_override in options:
        compute_dtype = dtype if name.startswith("gguf") or name in ("int8", "int4") else name
        if compute_dtype not in BYTES_PER_PARAM:
            compute_dtype = "float32"
        weights = weights_override
        if weights is None:
            weights = arch.total_params * BYTES_PER_PARAM[name]
        one = estimate_memory(
            arch,
            task,
            1,
            seq_len,
            compute_dtype,
            new_tokens=new_tokens,
            audio_seconds=audio_seconds,
            weights_override=weights,
        )
        per_batch = one.activations + one.kv_cache
        free = memory_limit_bytes - weights - overhead
        largest = int(free // per_batch) if per_batch > 0 and free > 0 else 0
        largest = min(largest, 4096)
        row: dict[str, Any] = {
            "option": name,
            "weights_mb": weights / MB,
            "memory_mb_batch_1": (weights + per_batch + overhead) / MB,
            "fits": largest >= 1,
            "largest_batch": largest,
        }
        if largest >= 1:
            batch = largest
            record = terms(
                arch,
                task,
                batch,
                seq_len,
                compute_dtype,
                new_tokens=new_tokens,
                audio_seconds=audio_seconds,
                weights_bytes=weights,
            )
            if weights_override is not None or name in ("int8", "int4"):
                # quantised weights: the bytes each step reads shrink with them (a runtime with int8/int4 kernels)
                ratio = weights / (arch.total_params * BYTES_PER_PARAM[compute_dtype])
                for phase in record["phases"]:
                    phase["bytes"] *= ratio
            predicted = predict(record, fit_, compute_dtype)
            ph = predicted["phases"]
            if generating and ph["decode"]["calls"]:
                row["tokens_s"] = batch * 1000 / ph["decode"]["ms_per_call"]
                row["rate_basis"] = f"decode at batch {batch}, {ph['decode']['regime']}"
            else:
                latency = predicted["latency_ms"]
                per_item = seq_len if arch.kind in ("encoder", "decoder", "encoder-decoder") else 1
                row["tokens_s" if per_item > 1 else "items_s"] = batch * per_item * 1000 / latency
                row["rate_basis"] = f"one forward at batch {batch}"
            if name in ("int8", "int4") or name.startswith("gguf"):
                row["note"] = "needs a runtime with quantised kernels (llama.cpp, or torch.ao); memory holds either way"
        rows.append(row)
    best = next((r for r in rows if r["fits"]), None)
    return {
        "memory_limit_mb": memory_limit_bytes / MB,
        "where": where,
        "context": seq_len + (new_tokens if generating else 0),
        "options": rows,
        "recommended": best["option"] if best else None,
        "summary": (
            f"{best['option']} fits in {where} ({memory_limit_bytes / 2**30:.1f} GiB) "
            f"up to batch {best['largest_batch']}"
            if best
            else f"no dtype or quantisation fits in {where} ({memory_limit_bytes / 2**30:.1f} GiB) at this context"
        ),
    }
