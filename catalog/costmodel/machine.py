"""This machine's calibrated figures (matmul peak per dtype, memory bandwidth), read from catalog.hardware's cache.

Never a silent assumption: without a calibration the profile carries assumed figures and says so in its basis
("estimated from an assumed peak — run `catalog hardware --calibrate`"); `ensure()` measures once instead, with a
progress line (numpy: about a second, no torch).
"""

from __future__ import annotations

import itertools
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any

ASSUMED_GFLOPS_PER_CORE = 50.0
ASSUMED_BANDWIDTH_GBS = 10.0
PEAK_ROWS = 2048.0  # the calibration's largest square matmul: from there on a matmul runs at the peak
CALIBRATE_HINT = "run `catalog hardware --calibrate`"


def _log_interpolate(points: list[tuple[float, float]], x: float, *, beyond: float) -> float:
    """y at x on a curve of (x, y) points sorted by x, linear in log x between points; the first y before the
    curve, `beyond` after it."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x <= x1:
            t = (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return y0 + t * (y1 - y0)
    return beyond


@dataclass
class Profile:
    device: str
    gflops: dict[str, float]
    bandwidth_gbs: float
    measured: bool
    library: str | None = None
    measured_at: str | None = None
    machine_id: str | None = None
    notes: list[str] = field(default_factory=list)
    bandwidth_curve: list[tuple[float, float]] = field(default_factory=list)  # (working-set bytes, GB/s)
    rows_curve: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # dtype: (input rows, GFLOP/s)
    matmul_call_us: dict[str, float] = field(default_factory=dict)  # dtype: fixed cost of one matmul call

    def matmul_call_ms(self, dtype: str) -> float:
        """The calibrated fixed cost of one matmul call at this dtype, in ms; 0 when not calibrated (a calibration
        that predates it: the fitted per-layer overhead then carries it)."""
        return self.matmul_call_us.get(dtype, 0.0) / 1e3

    def peak(self, dtype: str) -> tuple[float, str]:
        """GFLOP/s for dtype and where it comes from."""
        if dtype in self.gflops:
            value = self.gflops[dtype]
            if self.measured:
                return value, f"{dtype} matmul peak {value:.0f} GFLOP/s (calibrated with {self.library})"
            return value, f"an assumed {value:.0f} GFLOP/s peak — {CALIBRATE_HINT}"
        value = self.gflops.get("float32", ASSUMED_GFLOPS_PER_CORE)
        how = f"calibrated with {self.library}" if self.measured else "assumed"
        return value, (
            f"{dtype} peak not calibrated: the float32 peak {value:.0f} GFLOP/s ({how}) is used and the fitted "
            f"{dtype} efficiency absorbs the difference — `catalog hardware --calibrate` measures {dtype} with torch"
        )

    def peak_at(self, dtype: str, rows: float) -> float:
        """GFLOP/s of a matmul whose input has `rows` rows (batch x positions; a decode step's batch): the calibrated
        linear-layer rate by rows, interpolated in log rows, rising to the square-matmul peak at PEAK_ROWS; the peak
        itself without a curve for this dtype (a calibration that predates it) or when rows is unknown (0)."""
        peak, _ = self.peak(dtype)
        points = self.rows_curve.get(dtype)
        if not points or rows <= 0:
            return peak
        points = [*points, (PEAK_ROWS, peak)] if points[-1][0] < PEAK_ROWS else points
        return _log_interpolate(points, rows, beyond=peak)

    def bandwidth_at(self, working_set: float) -> float:
        """GB/s for a working set of this many bytes: the calibrated copy bandwidth by size (caches make small sets
        faster), interpolated in log size; the large-copy figure beyond the curve or without one."""
        points = self.bandwidth_curve
        if not points or working_set <= 0:
            return self.bandwidth_gbs
        return _log_interpolate(points, working_set, beyond=points[-1][1])

    def bandwidth(self) -> tuple[float, str]:
        if self.measured and self.bandwidth_gbs:
            return (
                self.bandwidth_gbs,
                f"memory bandwidth {self.bandwidth_gbs:.1f} GB/s (calibrated with {self.library})",
            )
        return self.bandwidth_gbs, f"an assumed {self.bandwidth_gbs:.0f} GB/s bandwidth — {CALIBRATE_HINT}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "gflops": self.gflops,
            "bandwidth_gbs": self.bandwidth_gbs,
            "measured": self.measured,
            "library": self.library,
            "measured_at": self.measured_at,
            "machine_id": self.machine_id,
        }


ROWS_PLAUSIBLE_SHARE = 0.3  # a CPU's 256-row linear layer reaches at least this share of its big-matmul peak


def _rows_curves(
    raw: dict[str, Any], peaks: dict[str, float], device: str = "cpu"
) -> tuple[dict[str, list[tuple[float, float]]], list[str]]:
    """The calibrated rate by rows per dtype, and notes on what was not believed. More rows never take less time
    (a slow point is raised to the time of the next larger one), never run slower per row nor faster than the
    dtype's peak. On a CPU, a curve whose largest point (256 rows or more) stays under 30% of the peak was measured
    while other work held the cores (BLAS threads then wait on each other: 20-30 ms for any size was seen on a
    loaded 2-core machine, 3.5 s estimated for bert-base): it is dropped, and the peak alone prices every matmul."""
    curves, notes = {}, []
    for dtype, points in raw.items():
        if dtype not in peaks or not points:
            continue
        ordered = sorted((float(x), float(y)) for x, y in points if float(x) > 0 and float(y) > 0)
        if not ordered:
            continue
        per_row = [rows / gflops for rows, gflops in ordered]  # time, in units of one row at 1 GFLOP/s
        for i in range(len(per_row) - 2, -1, -1):
            per_row[i] = min(per_row[i], per_row[i + 1])
        peak, best, curve = peaks[dtype], 0.0, []
        for (rows, _), time in zip(ordered, per_row, strict=True):
            best = min(max(best, rows / time), peak)
            curve.append((rows, best))
        largest_rows, largest = ordered[-1]
        if device == "cpu" and largest_rows >= 256 and largest < ROWS_PLAUSIBLE_SHARE * peak:
            notes.append(
                f"{dtype} matmul-by-rows calibration not used: {largest_rows:.0f} rows ran at {largest:.1f} GFLOP/s, "
                f"{largest / peak:.0%} of the {peak:.0f} GFLOP/s peak (measured while the machine was busy?) — "
                f"{CALIBRATE_HINT} on a quiet machine"
            )
            continue
        curves[dtype] = curve
    return curves, notes


def _assumed(device: str, machine_id: str | None) -> Profile:
    cores = os.cpu_count() or 1
    peak = ASSUMED_GFLOPS_PER_CORE * cores
    return Profile(device, {"float32": peak}, ASSUMED_BANDWIDTH_GBS, False, machine_id=machine_id)


def profile(device: str = "cpu", threads: int | None = None) -> Profile:
    """The cached calibration for this machine, or assumed figures that say so. Never measures."""
    from catalog import hardware

    try:
        machine = str(hardware.fingerprint()["machine_id"])
        cached = hardware.cached_peaks(device, threads)
    except Exception:  # the probe must never break an estimate
        return _assumed(device, None)
    if not cached or not cached.get("gflops"):
        return _assumed(device, machine)
    bandwidth = cached.get("bandwidth_gbs")
    result = Profile(
        device,
        {k: float(v) for k, v in cached["gflops"].items()},
        float(bandwidth) if bandwidth else ASSUMED_BANDWIDTH_GBS,
        True,
        library=cached.get("library", "torch"),
        measured_at=cached.get("measured_at"),
        machine_id=machine,
    )
    curve = cached.get("bandwidth_curve") or []
    gbs = [float(y) for _, y in curve]
    for i in range(1, len(gbs)):  # never faster for a larger working set (a noisy large copy is not believed)
        gbs[i] = min(gbs[i], gbs[i - 1])
    result.bandwidth_curve = [(float(x), y) for (x, _), y in zip(curve, gbs, strict=True)]
    if result.bandwidth_curve:
        result.bandwidth_gbs = min(result.bandwidth_gbs, result.bandwidth_curve[-1][1])
    result.rows_curve, rows_notes = _rows_curves(cached.get("matmul_rows") or {}, result.gflops, device)
    result.notes += rows_notes
    calls = cached.get("matmul_call_us") or {}
    result.matmul_call_us = {str(k): float(v) for k, v in calls.items() if isinstance(v, int | float) and v > 0}
    if not bandwidth:  # calibrated before bandwidth was measured
        result.notes.append(
            f"memory bandwidth not calibrated: {ASSUMED_BANDWIDTH_GBS:.0f} GB/s assumed — {CALIBRATE_HINT}"
        )
    return result


def ensure(device: str = "cpu", threads: int | None = None, *, quiet: bool = False) -> Profile:
    """The cached calibration, measuring it first when there is none (CPU: numpy, ~1-2 s, a progress line on
    stderr; not with CATALOG_CALIBRATE=never). GPUs need torch and `catalog hardware --calibrate --device cuda`."""
    from catalog import settings

    current = profile(device, threads)
    if current.measured or device != "cpu" or not settings.auto_calibrate():
        return current
    from catalog import hardware

    def say(text: str) -> None:
        if not quiet:
            print(f"calibrating this machine once: {text} …", file=sys.stderr, flush=True)

    try:
        hardware.calibrate(device, threads, library="numpy", seconds=1.0, progress=say)
    except Exception as exc:  # never fatal: the assumed figures say what they are, here and in every basis
        why = "numpy is not installed (pip install numpy)" if isinstance(exc, ImportError) else type(exc).__name__
        current.notes.append(f"calibration failed ({why}): assumed figures used")
        if not quiet:
            print(f"could not measure this machine: {why}; estimates use assumed figures", file=sys.stderr)
        return current
    return profile(device, threads)
