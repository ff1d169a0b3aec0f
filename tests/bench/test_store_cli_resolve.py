"""Storage and the CLI contract (bench list/show, hardware), model resolution (pickle refusal, offline Hub), FLOPs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.flops import flops_per_forward
from bench.resolve import ModelResolutionError, PickleRefusedError, infer_task, parse_random_spec, resolve
from bench.results import BenchResult
from bench.store import finish_run, get_run, list_runs, save_result, start_run
from catalog.db import open_database

SHAPES = [(1, 8)]


def _stored_run(url: str) -> int:
    db = open_database(url)
    run_id = start_run(
        db,
        {"models": ["m"], "device": "cpu", "dtype": "float32"},
        {"machine_id": "abc", "cpu_model": "X"},
        {"python": "3"},
    )
    ok = BenchResult(
        model_id="m",
        task_id="feature-extraction",
        batch_size=1,
        seq_len=8,
        device="cpu",
        dtype="float32",
        weights="random",
        latency_p50_ms=2.0,
        latency_p90_ms=2.1,
        latency_p95_ms=2.2,
        latency_p99_ms=2.3,
        latency_mean_ms=2.05,
        latency_stdev_ms=0.1,
        latency_cov=0.05,
        iterations=3,
        samples_ms=[2.0, 1.9, 2.2],
        converged=True,
        note="n",
    )
    save_result(db, run_id, ok)
    save_result(
        db,
        run_id,
        BenchResult(
            model_id="m2",
            task_id=None,
            batch_size=1,
            seq_len=8,
            device="cpu",
            dtype="float32",
            status="oom",
            error="memory guard",
        ),
    )
    finish_run(db, run_id, "finished")
    db.dispose()
    return run_id


def test_store_round_trip(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    run_id = _stored_run(url)
    db = open_database(url)
    record = get_run(db, run_id)
    assert record.status == "finished" and record.machine_id == "abc"
    first, second = record.results
    assert first.samples_ms == [2.0, 1.9, 2.2] and first.converged is True and first.note == "n"
    assert first.provenance == f"measured here, random weights (run {run_id})"  # the one label (issue 12)
    assert second.status == "oom" and second.error == "memory guard"
    assert [r.result_count for r in list_runs(db)] == [2]
    db.dispose()


def test_bench_list_and_show(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'b.db'}"
    run_id = _stored_run(url)
    listed = run_cli("--db", url, "bench", "list", "--format", "json")
    assert listed.code == 0, listed.err
    assert [r["id"] for r in listed.json()] == [run_id]
    shown = run_cli("--db", url, "bench", "show", str(run_id), "--format", "json")
    assert shown.code == 0, shown.err
    results = shown.json()["results"]
    assert set(results[0]) >= {
        "model",
        "task",
        "batch_size",
        "seq_len",
        "status",
        "latency_ms",
        "throughput",
        "peak_rss_mb",
        "provenance",
    }
    assert set(results[0]["latency_ms"]) == {"p50", "p90", "p95", "p99", "mean", "stdev", "cov"}
    assert results[1]["status"] == "oom" and results[1]["latency_ms"] is None
    table = run_cli("--db", url, "bench", "show", str(run_id))
    assert table.code == 0 and "random weights" in table.out and "oom" in table.out
    missing = run_cli("--db", url, "bench", "show", "999")
    assert missing.code == 1 and "Unknown benchmark run '999'" in missing.err
    empty = run_cli("--db", f"sqlite:///{tmp_path / 'e.db'}", "bench", "list")
    assert "catalog bench run" in empty.out


def test_bench_run_rejects_bad_options(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'b.db'}"
    assert "--top needs --task" in run_cli("--db", url, "bench", "run", "--top", "2").err
    assert "Nothing to benchmark" in run_cli("--db", url, "bench", "run").err
    assert "--batch-sizes" in run_cli("--db", url, "bench", "run", "-m", "x", "--batch-sizes", "a").err


def test_hardware_command_json(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("hardware", "--format", "json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["hardware"]["cpu_model"] and data["hardware"]["logical_cores"] >= 1
    assert len(data["hardware"]["machine_id"]) == 12
    assert data["software"]["python"]


def test_cli_import_stays_light() -> None:
    code = "import sys, catalog.cli, catalog.cli.bench, catalog.cli.hardware, catalog.hardware; print(sorted(m for m in ('torch', 'transformers', 'bench', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_resolve_local_paths_and_random_specs(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertForMaskedLM"]}))
    (model / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(PickleRefusedError, match="--allow-pickle"):
        resolve(str(model), task=None, no_weights=False, shapes=SHAPES)
    job = resolve(str(model), task=None, no_weights=False, shapes=SHAPES, allow_pickle=True)
    assert (job.weights, job.task) == ("real", "fill-mask")
    job = resolve(str(model), task="feature-extraction", no_weights=True, shapes=SHAPES)
    assert job.weights == "random" and job.config["model_type"] == "bert"
    job = resolve(str(model / "config.json"), task=None, no_weights=True, shapes=SHAPES)
    assert job.weights == "random"
    assert parse_random_spec("random:gpt2,n_layer=2,n_embd=64") == {"model_type": "gpt2", "n_layer": 2, "n_embd": 64}
    with pytest.raises(ModelResolutionError):
        parse_random_spec("random:n_layer=2")
    with pytest.raises(ModelResolutionError, match="no such file"):
        resolve("./nope/missing", task=None, no_weights=False, shapes=SHAPES)


def test_offline_hub_id_without_cache_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelResolutionError, match="HF_HUB_OFFLINE=1"):
        resolve("someone/never-cached", task=None, no_weights=False, shapes=SHAPES)
    with pytest.raises(ModelResolutionError, match="HF_HUB_OFFLINE=1"):
        resolve("someone/never-cached", task=None, no_weights=True, shapes=SHAPES)


def test_infer_task() -> None:
    assert infer_task({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}) == "text-generation"
    assert infer_task({"model_type": "t5"}) == "text2text-generation"
    assert (
        infer_task(
            {"model_type": "bart", "is_encoder_decoder": True, "architectures": ["BartForConditionalGeneration"]}
        )
        == "text2text-generation"
    )
    assert infer_task({"model_type": "bert"}) == "feature-extraction"


def test_flops_of_bert_base_follow_the_documented_formula() -> None:
    config = {
        "model_type": "bert",
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "vocab_size": 30522,
        "hidden_act": "gelu",
    }
    linear_params = 12 * (4 * 768 * 768 + 2 * 768 * 3072)
    expected = 2 * linear_params * 128 + 4 * 12 * 128 * 128 * 768
    assert flops_per_forward(config, "feature-extraction", 1, 128) == expected
    assert flops_per_forward(config, "feature-extraction", 8, 128) == 8 * expected
    assert flops_per_forward(config, "fill-mask", 1, 128) == expected + 2 * 30522 * 768 * 128
    assert flops_per_forward({"model_type": "x"}, "feature-extraction", 1, 8) is None


def test_catalog_id_alias_for_a_local_copy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`ID=PATH` benchmarks PATH but files the results under ID, so the catalog entry counts as measured."""
    import json as _json

    from bench.resolve import resolve

    config = tmp_path / "config.json"
    config.write_text(_json.dumps({"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 1,
                                   "num_attention_heads": 2, "intermediate_size": 64, "vocab_size": 100}))  # fmt: skip
    job = resolve(f"sentence-transformers/all-MiniLM-L6-v2={config}", task="feature-extraction", no_weights=True,
                  shapes=[(1, 8)])  # fmt: skip
    assert job.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert job.weights == "random" and job.config["model_type"] == "bert"
