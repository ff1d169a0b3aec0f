"""This machine: CPU model, cores, ISA flags, RAM, GPUs and driver, OS, and a calibrated matmul peak.

Nothing heavy at import time: CPU facts come from /proc/cpuinfo (py-cpuinfo elsewhere), RAM from psutil, GPUs
from nvidia-smi; torch is imported only for `calibrate()` and, when asked, for its view of the GPUs.

machine_id is a short digest of the facts that identify the hardware (CPU model, core count, ISA flags, RAM to
the GiB, GPU models, OS family and architecture), not of software versions, so results stay findable across
upgrades of torch or the OS.

Calibration times square matmuls (2 n^3 FLOPs each; torch.mm at n = 1024 and 2048 per dtype, or numpy's float32
matmul without torch), a linear layer at 1 to 256 input rows (small matmuls reach a fraction of the peak) and the
fixed cost of one matmul call, and copies of 1 to 256 MiB arrays (memory bandwidth, read + write, by working-set
size: caches make small ones faster), keeps the best repeat as this machine's achievable figure, and caches it in
data_dir()/hardware.json per machine, device and thread count, with the library that measured it. The cost model
(catalog.costmodel) reads it.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from catalog import settings

INTERESTING_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
    "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "amx_fp16", "neon", "asimd", "sve", "sve2",
    "bf16", "i8mm",
)  # fmt: skip
CALIBRATION_FILE = "hardware.json"


def _proc_cpuinfo() -> tuple[str | None, list[str]]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None, []
    model: str | None = None
    flags: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and model is None:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = value.split()
    return model, flags


def cpu_facts() -> dict[str, Any]:
    import psutil

    model, flags = _proc_cpuinfo()
    if model is None or not flags:
        try:
            import cpuinfo

            info = cpuinfo.get_cpu_info()
            model = model or info.get("brand_raw")
            flags = flags or list(info.get("flags", []))
        except Exception:
            model = model or platform.processor() or platform.machine()
    return {
        "cpu_model": model or "unknown",
        "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(logical=True),
        "isa": sorted(set(flags) & set(INTERESTING_FLAGS)),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }


def nvidia_gpus() -> list[dict[str, Any]]:
    """GPUs as nvidia-smi reports them (model, driver, memory); empty without NVIDIA tools."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return []
    try:
        out = subprocess.run(
            [tool, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 3:
            gpus.append({"name": parts[0], "driver": parts[1], "memory_mb": float(parts[2])})
    return gpus


def torch_gpus() -> list[dict[str, Any]]:
    """GPUs as torch sees them (CUDA or MPS); empty when torch is not installed."""
    try:
        import torch
    except ImportError:
        return []
    gpus: list[dict[str, Any]] = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            gpus.append({"name": props.name, "memory_mb": props.total_memory / 2**20, "cuda": torch.version.cuda})
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        gpus.append({"name": "Apple MPS"})
    return gpus


def fingerprint(*, with_torch: bool = False) -> dict[str, Any]:
    """The hardware record of a benchmark run. with_torch adds torch's view of the GPUs (imports torch)."""
    return copy.deepcopy(_fingerprint(with_torch))


BOOT_ID = Path("/proc/sys/kernel/random/boot_id")  # Linux: changes at every boot
FINGERPRINT_CACHE = "fingerprint.json"


def _boot_id() -> str | None:
    try:
        return BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def _cached_facts(boot: str | None) -> dict[str, Any] | None:
    """The facts probed earlier in this boot (Linux), from the data dir: the hardware does not change between
    boots' worth of commands, and probing costs `catalog recommend` psutil's import and, on GPU machines, an
    nvidia-smi process."""
    data = settings.read_cache(FINGERPRINT_CACHE) if boot is not None else None
    facts = data.get("facts") if isinstance(data, dict) and data.get("boot_id") == boot else None
    return facts if isinstance(facts, dict) and isinstance(facts.get("machine_id"), str) else None


@functools.lru_cache(maxsize=2)
def _fingerprint(with_torch: bool) -> dict[str, Any]:
    """Probed once per process, and once per boot for the facts without torch's view (kept in the data dir)."""
    boot = None if with_torch else _boot_id()
    cached = _cached_facts(boot)
    if cached is not None:
        return cached
    facts = _probe(with_torch)
    if boot is not None:
        settings.write_cache(FINGERPRINT_CACHE, {"boot_id": boot, "facts": facts})
    return facts


def _probe(with_torch: bool) -> dict[str, Any]:
    facts = cpu_facts()
    facts["gpus"] = nvidia_gpus()
    if with_torch and not facts["gpus"]:
        facts["gpus"] = torch_gpus()
    facts["os"] = f"{platform.system()} {platform.release()}"
    facts["machine"] = platform.machine()
    facts["machine_id"] = machine_id(facts)
    return facts


def machine_id(facts: dict[str, Any]) -> str:
    stable = {
        "cpu_model": facts.get("cpu_model"),
        "logical_cores": facts.get("logical_cores"),
        "isa": facts.get("isa"),
        "ram_gb": round(float(facts.get("ram_gb") or 0)),
        "gpus": sorted(g.get("name", "") for g in facts.get("gpus", []) if g.get("name") != "Apple MPS"),
        "system": platform.system(),
        "machine": facts.get("machine") or platform.machine(),
    }
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()[:12]


def _version(package: str) -> str | None:
    from importlib import metadata  # here, not at import: `catalog recommend` never asks for versions

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def software() -> dict[str, Any]:
    """Versions that change benchmark figures, read from package metadata (nothing is imported)."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": platform.platform(),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "numpy": _version("numpy"),
        "catalog": _version("catalog"),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


# --- calibration ------------------------------------------------------------------------------------------------


def _calibration_path() -> Path:
    return settings.data_dir() / CALIBRATION_FILE


def _read_store() -> dict[str, Any]:
    try:
        data = json.loads(_calibration_path().read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _key(device: str, threads: int | None) -> str:
    return f"{device}/threads={threads}" if device == "cpu" else device


def default_threads() -> int:
    """The physical cores (the thread count benchmarks and calibrations use by default)."""
    return int(fingerprint().get("physical_cores") or os.cpu_count() or 1)


def cached_peaks(device: str = "cpu", threads: int | None = None) -> dict[str, Any] | None:
    """The cached calibration for this machine, device and thread count; None when never calibrated."""
    threads = threads or (default_threads() if device == "cpu" else None)
    store = _read_store()
    entry = store.get(machine_id(fingerprint()), {}).get(_key(device, threads))
    return entry if isinstance(entry, dict) else None


def calibrate(
    device: str = "cpu",
    threads: int | None = None,
    *,
    size: int = 2048,
    seconds: float = 1.5,
    library: str | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Measure this machine's matmul peak (GFLOP/s) per dtype and its memory bandwidth (GB/s), cache and return
    them. With torch (the library benchmarks run on): float32 and bfloat16, float16 too on GPUs. Without torch (or
    library="numpy"): numpy's float32 matmul and copy bandwidth, in about a second. `progress(text)` hears what is
    being measured."""
    if library is None:
        import importlib.util

        library = "torch" if importlib.util.find_spec("torch") is not None else "numpy"
    if library not in ("torch", "numpy"):
        raise ValueError(f"library must be torch or numpy, not {library!r}")
    if library == "numpy" and device != "cpu":
        raise ValueError("numpy calibrates the CPU only; install torch to calibrate a GPU")
    threads = threads or (default_threads() if device == "cpu" else None)
    say = progress or (lambda text: None)
    if library == "torch":
        peaks, memory, version = _calibrate_torch(device, threads, size, seconds, say)
    else:
        peaks, memory, version = _calibrate_numpy(size, seconds, say)
    entry = {
        "gflops": peaks,
        "bandwidth_gbs": memory["gbs"],
        "bandwidth_curve": memory["curve"],
        "matmul_rows": memory["rows"],
        "matmul_call_us": memory["call_us"],
        "threads": threads,
        "library": library,
        library: version,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    store = _read_store()
    facts = fingerprint()
    store.setdefault(facts["machine_id"], {})[_key(device, threads)] = entry
    path = _calibration_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(store, indent=2))
    tmp.replace(path)
    return entry


def _best_seconds(run: Any, budget_s: float, min_repeats: int = 3, max_repeats: int = 50) -> float:
    """The fastest of repeated timings (the achievable figure): at least min_repeats, then until the budget."""
    import time

    best = float("inf")
    deadline = time.perf_counter() + budget_s
    repeats = 0
    while repeats < min_repeats or (time.perf_counter() < deadline and repeats < max_repeats):
        start = time.perf_counter_ns()
        run()
        best = min(best, (time.perf_counter_ns() - start) / 1e9)
        repeats += 1
    return best


def _calibrate_torch(
    device: str, threads: int | None, size: int, seconds: float, say: Any
) -> tuple[dict[str, float], dict[str, Any], str]:
    import torch

    if threads and device == "cpu":
        torch.set_num_threads(threads)
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    if device != "cpu":
        dtypes["float16"] = torch.float16

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()
        elif device == "mps":
            torch.mps.synchronize()

    peaks: dict[str, float] = {}
    sizes = sorted({1024, size})
    share = seconds / (len(dtypes) * (len(sizes) + 1) + 1)
    with torch.inference_mode():
        for name, dtype in dtypes.items():
            say(f"matmul peak, {name} (torch)")
            best_rate = 0.0
            for n in sizes:  # the fastest size differs by dtype and library
                a = torch.randn(n, n, device=device).to(dtype)
                b = torch.randn(n, n, device=device).to(dtype)
                out = torch.empty(n, n, device=device, dtype=dtype)
                torch.mm(a, b, out=out)

                def mm(a: Any = a, b: Any = b, out: Any = out) -> None:
                    torch.mm(a, b, out=out)
                    sync()

                best_rate = max(best_rate, 2 * n**3 / _best_seconds(mm, share) / 1e9)
            peaks[name] = best_rate
        say("memory bandwidth (torch)")

        def make(count: int) -> Any:
            source = torch.ones(count, device=device)
            target = torch.empty_like(source)

            def copy() -> None:
                target.copy_(source)
                sync()

            return copy

        curve = _bandwidth_curve(make, share)
        rows: dict[str, list[list[float]]] = {}
        call_us: dict[str, float] = {}
        for name, dtype in dtypes.items():
            say(f"matmul by rows, {name} (torch)")

            def linear(count: int, width: int = ROWS_WIDTH, dtype: Any = dtype) -> Any:
                weight = torch.randn(width, width, device=device).to(dtype)
                x = torch.randn(count, width, device=device).to(dtype)

                def run() -> None:
                    torch.nn.functional.linear(x, weight)
                    sync()

                return run

            call_us[name], rows[name] = _rows_curve(linear, share)
    bandwidth = curve[-1][1]
    memory = {"gbs": bandwidth, "curve": curve, "rows": rows, "call_us": call_us}
    return peaks, memory, str(torch.__version__)


def _calibrate_numpy(size: int, seconds: float, say: Any) -> tuple[dict[str, float], dict[str, Any], str]:
    import numpy as np

    say("matmul peak, float32 (numpy)")
    n = min(size, 1536)
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=out)
    peak = 2 * n**3 / _best_seconds(lambda: np.matmul(a, b, out=out), seconds / 2) / 1e9
    say("memory bandwidth (numpy)")

    def make(count: int) -> Any:
        source = np.ones(count, dtype=np.float32)
        target = np.empty_like(source)
        return lambda: np.copyto(target, source)

    curve = _bandwidth_curve(make, seconds / 4)
    say("matmul by rows (numpy)")

    def linear(count: int, width: int = ROWS_WIDTH) -> Any:
        weight = np.random.default_rng(2).standard_normal((width, width), dtype=np.float32)
        x = np.random.default_rng(3).standard_normal((count, width), dtype=np.float32)
        return lambda: np.matmul(x, weight.T)

    call_us, rows = _rows_curve(linear, seconds / 4)
    memory = {"gbs": curve[-1][1], "curve": curve, "rows": {"float32": rows}, "call_us": {"float32": call_us}}
    return {"float32": peak}, memory, str(np.__version__)


BANDWIDTH_ARRAYS_MIB = (1, 4, 16, 64, 256)  # one array of a copy; the last is far beyond any cache


def _bandwidth_curve(make: Any, budget_s: float) -> list[list[float]]:
    """[working-set bytes (source + target), GB/s (read + write)] per array size, smallest first: caches make small
    working sets faster, and a small model's weights are read from them at every decode step."""
    curve = []
    for mib in BANDWIDTH_ARRAYS_MIB:
        count = mib * 2**20 // 4
        copy = make(count)
        copy()
        seconds = _best_seconds(copy, budget_s / len(BANDWIDTH_ARRAYS_MIB), max_repeats=200)
        curve.append([float(2 * count * 4), 2 * count * 4 / seconds / 1e9])
    return curve


ROWS = (1, 4, 16, 64, 256)  # input rows of a linear layer: batch x positions in a forward, batch in a decode step
ROWS_WIDTH = 1024  # a 1024 x 1024 weight: 4 MiB in float32


def _rows_curve(make: Any, budget_s: float) -> tuple[float, list[list[float]]]:
    """The fixed cost of one matmul call in µs (one row through a 128 x 128 and a 256 x 256 weight, extrapolated
    to no work: bfloat16 on a CPU pays tens of µs of kernel set-up per call, float32 a few), and [rows, GFLOP/s]
    of a linear layer (x @ W.T, W 1024 x 1024) per number of input rows, that fixed cost taken out: with few rows a
    matmul cannot reach the peak (one row is a matrix-vector product that reads the whole weight for 2 FLOPs per
    element; a few rows pay the packing of the weight each call), which is where decode steps and small
    batches run. `make(rows, width)` returns the timed call."""
    share = budget_s / (len(ROWS) + 2)
    small = []
    for width in (128, 256):
        run = make(1, width)
        run()
        small.append(_best_seconds(run, share, max_repeats=500))
    call = min(max(0.0, (4 * small[0] - small[1]) / 3), small[0])  # the 256-wide call does 4x the work
    curve = []
    for count in ROWS:
        run = make(count, ROWS_WIDTH)
        run()
        seconds = max(_best_seconds(run, share, max_repeats=200) - call, 1e-9)
        curve.append([float(count), 2 * count * ROWS_WIDTH**2 / seconds / 1e9])
    return call * 1e6, curve


def describe(*, with_torch: bool | None = None) -> dict[str, Any]:
    """Everything `catalog hardware` shows: the fingerprint, software versions and cached calibrations."""
    if with_torch is None:
        with_torch = "torch" in sys.modules
    facts = fingerprint(with_torch=with_torch)
    store = _read_store().get(facts["machine_id"], {})
    return {"hardware": facts, "software": software(), "calibration": store}
