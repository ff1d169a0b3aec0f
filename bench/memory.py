"""Memory: peak RSS above the pre-load baseline, per phase (load, inference), and a guard that stops a process
before it takes the machine down.

A psutil sampling thread reads RSS every `interval_s`; on Linux the kernel's own high-water mark (VmHWM in
/proc/self/status, reset per phase through /proc/self/clear_refs) catches spikes between two samples, and the
larger of the two is reported. The same thread is the memory guard: above `limit_mb` it calls `on_exceed` (the
worker reports "oom" to its parent and exits).

Around a timed loop (`quiet()`) the thread does not wake up at all where the kernel keeps the high-water mark: a
wake-up takes the GIL and a core away from the model's threads in the middle of a timed iteration. The caller runs
`check()` between iterations instead, outside the timed region, so the guard still holds at every iteration
boundary (and the kernel's OOM killer, which the parent reports as "oom", remains the backstop within one).
Without the kernel's mark (not Linux) the thread keeps sampling, every `inference_interval_s`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MB = 1024 * 1024
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def current_rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _kernel_peak() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_kernel_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


class MemoryMonitor:
    """Samples this process's RSS in a daemon thread; `phase(name)` starts a new peak; `peak_mb(name)` is the
    phase's peak above the baseline taken at construction."""

    def __init__(
        self,
        *,
        interval_s: float = 0.01,
        inference_interval_s: float = 0.1,
        limit_mb: float | None = None,
        on_exceed: Callable[[float], None] | None = None,
    ) -> None:
        import psutil

        self._process = psutil.Process()
        self.interval_s = interval_s
        self._load_interval_s = interval_s
        self.inference_interval_s = inference_interval_s
        self.limit_mb = limit_mb
        self.on_exceed = on_exceed
        self.baseline = int(self._process.memory_info().rss)
        self._kernel = _reset_kernel_peak()
        self._phase = "start"
        self._peaks: dict[str, int] = {"start": self.baseline}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._awake = threading.Event()  # cleared while quiet(): the thread waits on it instead of sampling
        self._awake.set()
        self._thread = threading.Thread(target=self._run, name="memory-monitor", daemon=True)

    def __enter__(self) -> MemoryMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._awake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=1)

    def _sample(self) -> int:
        rss = int(self._process.memory_info().rss)
        with self._lock:
            if rss > self._peaks.get(self._phase, 0):
                self._peaks[self._phase] = rss
        return rss

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._awake.wait()
            if self._stop.is_set() or not self.check():
                return

    def check(self) -> bool:
        """Sample RSS now and apply the guard; False when the limit was passed (after `on_exceed`) or the process
        is exiting."""
        try:
            rss = self._sample()
        except Exception:  # the process is exiting
            return False
        if self.limit_mb is not None and rss / MB > self.limit_mb and self.on_exceed is not None:
            self.on_exceed(rss / MB)
            return False
        return True

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Around a timed loop: no wake-ups from the sampling thread where the kernel keeps the peak (Linux); call
        `check()` between iterations."""
        if self._kernel:
            self._awake.clear()
        try:
            yield
        finally:
            self._awake.set()

    def phase(self, name: str) -> None:
        """Close the current phase (folding in the kernel's high-water mark) and start `name`."""
        self._close_phase()
        with self._lock:
            self._phase = name
            self._peaks[name] = int(self._process.memory_info().rss)
        # Model phases ("infer ...", "eval") sample slowly: a wake-up takes the GIL and a core from the model's
        # threads, and the kernel's high-water mark catches what happens between two samples.
        running_model = name.startswith(("infer", "eval"))
        self.interval_s = self.inference_interval_s if running_model else self._load_interval_s
        if self._kernel:
            _reset_kernel_peak()

    def _close_phase(self) -> None:
        self._sample()
        if self._kernel:
            peak = _kernel_peak()
            if peak is not None:
                with self._lock:
                    self._peaks[self._phase] = max(self._peaks.get(self._phase, 0), peak)

    def peak_mb(self, name: str) -> float | None:
        """Peak RSS of phase `name` above the baseline, in MiB (the current phase is closed first)."""
        if name == self._phase:
            self._close_phase()
        peak = self._peaks.get(name)
        return None if peak is None else max(0, peak - self.baseline) / MB


def cuda_memory() -> dict[str, float] | None:
    """CUDA max allocated / reserved since the last reset, in MiB; None off GPU (or when torch is not loaded)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return {
        "cuda_max_allocated_mb": torch.cuda.max_memory_allocated() / MB,
        "cuda_max_reserved_mb": torch.cuda.max_memory_reserved() / MB,
    }


def reset_cuda_peak() -> None:
    torch = sys.modules.get("torch")  # never import it here: that alone would add ~200 MiB to the load peak
    if torch is not None and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
