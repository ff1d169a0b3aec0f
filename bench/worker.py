"""The process one model runs in: prepare the runtime, receive the job, load, then measure each shape, streaming
every result to the parent as soon as it exists. Started by bench.runner with the "spawn" context, so it shares no
state (threads, allocator, CUDA context) with the parent or the other models.

The parent starts it before it knows the model: `startup` (backend and threads) is enough to set the thread count
and import the backend's libraries (torch, transformers and its modeling core: seconds), which then overlaps the
parent's own setup (database, fingerprint, resolving the model). The job (model, shapes, settings) follows through
`inbox`; a worker whose inbox closes without a job exits quietly.

Messages to the parent (dicts through a Pipe): hello (software), loaded (load time and memory), result (one
BenchResult per shape), failed (the model cannot go on: status + reason), done. The memory guard reports
"oom" itself and exits with OOM_EXIT before the kernel's OOM killer picks a victim.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
import traceback
from statistics import median
from typing import Any

OOM_EXIT = 86


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}{' …' if len(text) > 300 else ''}"


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


def main(conn: Any, inbox: Any, startup: dict[str, Any]) -> None:
    """Entry point of the worker process: `conn` carries messages to the parent, `inbox` the job from it."""
    lock = threading.Lock()

    def send(message: dict[str, Any]) -> None:
        with lock:
            conn.send(message)

    threads = startup.get("threads")
    if threads:  # before any library reads them
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[name] = str(threads)
    try:
        # Importing torch and transformers creates ~10^6 long-lived objects, and the collector's passes over them
        # are ~20% of the import time (3.5 -> 2.85 s here): collect nothing during the imports, then freeze what
        # they left (the collector never scans it again) and collect normally from there on, loading included.
        # The cycles the imports leave behind (~9k objects, ~8 MiB) stay; collecting them would cost ~0.3 s, and
        # the memory baseline is taken after this point.
        gc.disable()
        backend_cls = backend_class(startup.get("backend", "transformers"))
        software = backend_cls.prepare_runtime(threads)
        gc.freeze()
        gc.enable()
        send({"kind": "hello", "software": software, "pid": os.getpid()})
        try:
            payload = inbox.recv()
        except (EOFError, OSError):
            return  # the parent had no job for this process
        finally:
            inbox.close()
        _run(send, backend_cls, payload)
    except KeyboardInterrupt:
        pass
    except BaseException as exc:
        send({"kind": "failed", "status": "oom" if _is_oom(exc) else "failed", "error": _error_text(exc),
              "traceback": traceback.format_exc()[-4000:]})  # fmt: skip
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def backend_class(name: str) -> Any:
    """A registered backend, or "module:attr" for one outside the registry (tests, plug-ins)."""
    from bench.backends import BACKENDS, get_backend

    if name in BACKENDS:
        return get_backend(name)
    import importlib

    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


def _run(send: Any, backend_cls: Any, payload: dict[str, Any]) -> None:
    from bench.flops import flops_per_forward
    from bench.inputs import fit_shape
    from bench.latency import DEFAULT_MIN_ITERATIONS, Latency, StoppingRule, measure
    from bench.memory import MemoryMonitor, cuda_memory, reset_cuda_peak
    from bench.results import BenchResult
    from bench.spec import ModelJob

    settings = payload["settings"]
    job = ModelJob(**{**payload["job"], "shapes": tuple(tuple(s) for s in payload["job"]["shapes"])})
    limit = settings.get("memory_limit_mb")

    def on_exceed(rss_mb: float) -> None:
        send({"kind": "failed", "status": "oom",
              "error": f"memory guard: RSS {rss_mb:.0f} MiB went above the limit of {limit:.0f} MiB"})  # fmt: skip
        os._exit(OOM_EXIT)

    monitor = MemoryMonitor(limit_mb=limit, on_exceed=on_exceed)
    with monitor:
        backend = backend_cls(
            job,
            device=settings["device"],
            dtype=settings["dtype"],
            trust_remote_code=settings.get("trust_remote_code", False),
            allow_pickle=settings.get("allow_pickle", False),
        )
        monitor.phase("load")
        reset_cuda_peak()
        started = time.perf_counter()
        backend.load()
        load_time_s = time.perf_counter() - started
        # The libraries and the model are hundreds of thousands of long-lived objects: keep them out of the
        # collector's full passes (~0.2 s each here), which would otherwise land inside timed work now and then.
        gc.freeze()
        load_peak = monitor.peak_mb("load")
        send({"kind": "loaded", "load_time_s": load_time_s, "peak_rss_load_mb": load_peak, "task": job.task})
        rule = StoppingRule(
            budget_s=settings["budget_s"],
            target_rel=settings.get("target_rel", 0.02),
            min_iterations=settings.get("min_iterations", DEFAULT_MIN_ITERATIONS),
            warmup_iterations=settings.get("warmup_iterations", 3),
        )
        peaks = settings.get("peak_gflops") or {}
        for batch_size, seq_len in job.shapes:
            base = BenchResult(
                model_id=job.model_id, task_id=job.task, batch_size=batch_size, seq_len=seq_len,
                device=settings["device"], dtype=settings["dtype"], weights=job.weights,
                load_time_s=load_time_s, peak_rss_load_mb=load_peak,
            )  # fmt: skip
            try:
                shape = fit_shape(backend.config, batch_size, seq_len)
                base.note = shape.note or None
                inputs = backend.inputs(
                    shape, image_size=settings.get("image_size"), audio_seconds=settings.get("audio_seconds", 5.0)
                )
                monitor.phase(f"infer {batch_size}x{seq_len}")
                reset_cuda_peak()
                prefills: list[float] = []
                decodes: list[float] = []
                if backend.generates:
                    generate = backend.generation_step(inputs, settings.get("new_tokens", 16))

                    def step(
                        generate: Any = generate, prefills: list[float] = prefills, decodes: list[float] = decodes
                    ) -> None:
                        prefill, decode = generate()
                        prefills.append(prefill)
                        decodes.append(sum(decode) / len(decode) if decode else float("nan"))

                    timed: Any = step
                else:
                    timed = backend.forward_step(inputs)
                with monitor.quiet():  # no sampler wake-ups inside timed iterations; the guard checks between
                    latency: Latency = measure(timed, rule, between=monitor.check)
                n = latency.iterations
                seconds = latency.p50 / 1000
                base.latency_p50_ms, base.latency_p90_ms = latency.p50, latency.p90
                base.latency_p95_ms, base.latency_p99_ms = latency.p95, latency.p99
                base.latency_mean_ms, base.latency_stdev_ms, base.latency_cov = latency.mean, latency.stdev, latency.cov
                base.iterations, base.converged, base.unstable = n, latency.converged, latency.unstable
                base.samples_ms = list(latency.samples_ms)
                base.throughput_items_s = batch_size / seconds if seconds > 0 else None
                flops = flops_per_forward(backend.config, job.task, batch_size, shape.seq_len)
                timed_s = seconds
                if backend.generates and prefills:
                    base.prefill_ms = median(prefills[-n:])
                    per_token = [d for d in decodes[-n:] if d == d]
                    base.decode_ms_per_token = median(per_token) if per_token else None
                    if base.decode_ms_per_token:
                        base.throughput_tokens_s = batch_size * 1000 / base.decode_ms_per_token
                    timed_s = base.prefill_ms / 1000
                elif "input_ids" in inputs:
                    base.throughput_tokens_s = batch_size * shape.seq_len / seconds if seconds > 0 else None
                if flops:
                    base.flops_per_forward = flops
                    base.achieved_gflops = flops / timed_s / 1e9 if timed_s > 0 else None
                    peak = peaks.get(settings["dtype"])
                    if peak and base.achieved_gflops:
                        base.peak_fraction = base.achieved_gflops / peak
                base.peak_rss_infer_mb = monitor.peak_mb(f"infer {batch_size}x{seq_len}")
                base.estimate = _estimate_terms(backend.config, job.task, shape, settings)
                if base.seq_len != shape.seq_len:
                    base.seq_len = shape.seq_len
                cuda = cuda_memory()
                if cuda:
                    base.cuda_max_allocated_mb = cuda["cuda_max_allocated_mb"]
                    base.cuda_max_reserved_mb = cuda["cuda_max_reserved_mb"]
                if not latency.converged:
                    extra = f"median CI did not reach ±{rule.target_rel:.0%} within the {rule.budget_s:g} s budget"
                    base.note = f"{base.note}; {extra}" if base.note else extra
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                base.status = "oom" if _is_oom(exc) else "failed"
                base.error = _error_text(exc)
            send({"kind": "result", "result": base.to_dict()})
            inputs = None
        if settings.get("evaluation") is not None:
            monitor.phase("eval")
            reset_cuda_peak()
            evaluation = _evaluate(backend, job, payload, settings)
            evaluation.load_time_s, evaluation.peak_rss_load_mb = load_time_s, load_peak
            evaluation.peak_rss_infer_mb = monitor.peak_mb("eval")
            cuda = cuda_memory()
            if cuda:
                evaluation.cuda_max_allocated_mb = cuda["cuda_max_allocated_mb"]
                evaluation.cuda_max_reserved_mb = cuda["cuda_max_reserved_mb"]
            send({"kind": "eval", "result": evaluation.to_dict()})
    send({"kind": "done"})


def _estimate_terms(config: dict[str, Any], task: str, shape: Any, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The cost model's terms of this case (FLOPs, bytes, memory), from the loaded model's full config."""
    from catalog.costmodel import record_terms

    terms = record_terms(
        config,
        task,
        shape.batch_size,
        shape.seq_len,
        settings["dtype"],
        new_tokens=settings.get("new_tokens", 16),
        audio_seconds=settings.get("audio_seconds", 5.0),
    )
    return {"terms": terms} if terms else None


RANDOM_NOTE = "random weights: not a quality figure (a chance-level sanity check)"


def _evaluate(backend: Any, job: Any, payload: dict[str, Any], settings: dict[str, Any]) -> Any:
    """Score the loaded model on the evaluation set with its task's metric; a failure is a failed row, never a
    lost run."""
    from bench.results import BenchResult
    from bench.spec import EvalSpec
    from bench.tasks import get_runner

    spec = EvalSpec(**settings["evaluation"])
    meta = payload.get("eval_meta") or {}
    result = BenchResult(
        model_id=job.model_id, task_id=job.task, batch_size=spec.batch_size, seq_len=0, device=settings["device"],
        dtype=settings["dtype"], weights=job.weights, eval_set=meta.get("eval_set", spec.label),
        eval_checksum=meta.get("eval_checksum"), eval_license=meta.get("eval_license"),
    )  # fmt: skip
    try:
        outcome = get_runner(job.task)(backend, payload["evalset"], spec)
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        result.status = "oom" if _is_oom(exc) else "failed"
        from catalog.errors import CatalogError

        result.error = str(exc) if isinstance(exc, CatalogError) else _error_text(exc)  # ours say what to do next
        return result
    result.seq_len = outcome.max_seq_len
    result.n_examples = outcome.n_examples
    result.examples_per_s = outcome.examples_per_s
    result.primary_metric = outcome.primary_metric
    result.metrics = dict(outcome.metrics)
    result.ci95 = {k: list(v) for k, v in outcome.ci95.items()}
    notes = [n for n in (outcome.note, RANDOM_NOTE if job.weights == "random" else None) if n]
    result.note = "; ".join(notes) or None
    if spec.save_predictions and outcome.predictions:
        import json

        with open(spec.save_predictions, "a", encoding="utf-8") as handle:
            for index, prediction in enumerate(outcome.predictions):
                handle.write(json.dumps({"model": job.model_id, "index": index, "prediction": prediction},
                                        ensure_ascii=False) + "\n")  # fmt: skip
    return result
