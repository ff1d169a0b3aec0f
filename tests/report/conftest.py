"""A temp catalog holding benchmark runs with known numbers, written through the ORM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from catalog.db import open_database
from catalog.db.engine import Database
from catalog.db.models import BenchmarkResult, BenchmarkRun

EVIL = "<script>alert(1)</script>"


def _register_commands() -> None:
    """The lead registers report/compare under `catalog bench`; until then the tests do it themselves."""
    from catalog.cli.bench import bench_group
    from catalog.cli.bench_report import COMMANDS

    for command in COMMANDS:
        if command.name not in bench_group.commands:
            bench_group.add_command(command)


_register_commands()


def hardware(machine_id: str, cpu: str = "Test CPU 9000") -> dict[str, Any]:
    return {
        "cpu_model": cpu,
        "physical_cores": 8,
        "logical_cores": 16,
        "isa": ["avx2", "avx512f"],
        "ram_gb": 64.0,
        "gpus": [],
        "os": "Linux 6.1",
        "machine": "x86_64",
        "machine_id": machine_id,
    }


def software(torch: str = "2.13.0") -> dict[str, Any]:
    return {"python": "3.11.9", "torch": torch, "transformers": "4.50.0", "numpy": "2.4.6", "torch_threads": 8}


def samples(p50: float, n: int = 200, seed: int = 0, spread: float = 0.04) -> list[float]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return [float(v) for v in p50 * rng.lognormal(0.0, spread, n)]


def add_run(
    db: Database,
    results: list[dict[str, Any]],
    *,
    machine_id: str = "aaaa1111bbbb",
    cpu: str = "Test CPU 9000",
    torch: str = "2.13.0",
    device: str = "cpu",
) -> int:
    with db.session() as session:
        run = BenchmarkRun(
            status="finished",
            options={"device": device, "dtype": "float32"},
            hardware=hardware(machine_id, cpu),
            software=software(torch),
            machine_id=machine_id,
        )
        session.add(run)
        session.flush()
        for values in results:
            data = {
                "device": device,
                "dtype": "float32",
                "weights": "real",
                "status": "ok",
                "provenance": f"measured here (run {run.id})",
            } | values
            session.add(BenchmarkResult(run_id=run.id, **data))
        session.flush()
        return run.id


def ner_result(
    model: str,
    p50: float,
    *,
    batch: int = 1,
    seq: int = 128,
    metric: float | None = None,
    ci: tuple[float, float] | None = None,
    seed: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "model_id": model,
        "task_id": "token-classification",
        "batch_size": batch,
        "seq_len": seq,
        "latency_p50_ms": p50,
        "latency_p90_ms": round(p50 * 1.1, 2),
        "latency_p95_ms": round(p50 * 1.15, 2),
        "latency_p99_ms": round(p50 * 1.25, 2),
        "latency_mean_ms": p50,
        "latency_stdev_ms": p50 * 0.04,
        "latency_cov": 0.04,
        "iterations": 200,
        "samples_ms": samples(p50, seed=seed),
        "throughput_items_s": round(1000 * batch / p50, 1),
        "throughput_tokens_s": round(1000 * batch * seq / p50, 1),
        "peak_rss_load_mb": 400.0,
        "peak_rss_infer_mb": 512.0,
    }
    if metric is not None:
        data |= {
            "eval_set": "conll2003-sample",
            "eval_checksum": "ab" * 32,
            "eval_license": "other",
            "n_examples": 500,
            "examples_per_s": 120.5,
            "primary_metric": "seqeval-f1",
            "metrics": {"seqeval-f1": metric, "precision": 0.9},
            "ci95": {"seqeval-f1": list(ci) if ci else None},
        }
    return data | extra


@pytest.fixture
def report_db(tmp_path: Path, mini_taxonomy: Path) -> Database:
    """Two tasks; three NER models (one named like an XSS attack) at 1x128, one also at 4x128, a failed model,
    and a random-weight text-generation model."""
    db = open_database(f"sqlite:///{tmp_path / 'report.db'}")
    add_run(
        db,
        [
            ner_result("dslim/bert-base-NER", 12.34, metric=0.9012, ci=(0.8900, 0.9120), seed=1),
            ner_result("dslim/bert-base-NER", 40.0, batch=4, seed=2, peak_rss_infer_mb=700.0),
            ner_result("example/small-ner", 3.21, metric=0.8543, ci=(0.8400, 0.8700), seed=3, peak_rss_infer_mb=180.0),
            ner_result(EVIL, 150.5, metric=0.5, ci=(0.45, 0.55), seed=4),
            {
                "model_id": "example/broken",
                "task_id": "token-classification",
                "batch_size": 1,
                "seq_len": 128,
                "status": "failed",
                "error": "RuntimeError: broken checkpoint",
            },
            {
                "model_id": "openai-community/gpt2",
                "task_id": "text-generation",
                "batch_size": 1,
                "seq_len": 64,
                "weights": "random",
                "latency_p50_ms": 25.5,
                "latency_p90_ms": 27.0,
                "latency_p99_ms": 30.25,
                "samples_ms": samples(25.5, seed=5),
                "throughput_items_s": 39.2,
                "throughput_tokens_s": 627.5,
                "peak_rss_infer_mb": 900.0,
                "iterations": 200,
            },
        ],
    )
    yield db
    db.dispose()
