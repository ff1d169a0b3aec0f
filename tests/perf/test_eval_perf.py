"""Evaluation throughput: `catalog bench run --eval` against the transformers `pipeline` called the usual way, on
the same model and the same 1,000 sentences (rotten_tomatoes_sentence_polarity).

No fine-tuned classifier is available offline, so the model is all-MiniLM-L6-v2 (real encoder weights) with a
freshly initialised 2-label classification head (torch seed 0), saved once to a directory that both paths load:
identical weights, so the predictions must agree. Prints examples/s of both and the speed-up (goal: at least 3x,
from length-bucketed batches with dynamic padding under inference_mode); asserts only that predictions agree.
Run: pytest tests/perf -s -q
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.bench.helpers import minilm_dir, require
from tests.conftest import require_shared


def _classifier(directory: Path) -> Path:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    source = minilm_dir()
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1}
    )
    model.save_pretrained(directory)
    AutoTokenizer.from_pretrained(source).save_pretrained(directory)
    return directory


@pytest.mark.perf
def test_eval_throughput_vs_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require("torch")
    require_shared("evalsets/rotten_tomatoes_sentence_polarity")
    from transformers import pipeline

    from bench import evalsets
    from bench.runner import run_benchmark
    from bench.spec import BenchSpec, EvalSpec

    model_dir = _classifier(tmp_path / "minilm-cls")
    predictions_file = tmp_path / "predictions.jsonl"
    spec = BenchSpec(models=(str(model_dir),), seq_lens=(8,), budget_s=0.3,
                     evaluation=EvalSpec(name="rotten_tomatoes_sentence_polarity",
                                         save_predictions=str(predictions_file)))  # fmt: skip
    outcome = run_benchmark(spec, store=False)
    (result,) = [r for r in outcome.results if r.eval_set]
    assert result.status == "ok", result.error
    harness = [json.loads(line)["prediction"] for line in predictions_file.read_text().splitlines()]

    texts = [e.text for e in evalsets.load("rotten_tomatoes_sentence_polarity")]
    classifier = pipeline("text-classification", model=str(model_dir), device="cpu")
    classifier(texts[:8])  # warm-up, as the harness's latency shapes warm its process
    start = time.perf_counter()
    reference = [out["label"] for out in classifier(texts)]
    pipeline_rate = len(texts) / (time.perf_counter() - start)

    differing = [i for i, (a, b) in enumerate(zip(harness, reference, strict=True)) if a != b]
    with capsys.disabled():
        print(
            f"\n[perf] evaluation throughput, 1,000 sentences, all-MiniLM-L6-v2 + 2-label head, cpu float32:\n"
            f"  catalog bench run --eval: {result.examples_per_s:8.1f} examples/s (accuracy {result.metrics['accuracy']:.3f})\n"
            f"  transformers pipeline:    {pipeline_rate:8.1f} examples/s\n"
            f"  speed-up: {result.examples_per_s / pipeline_rate:.1f}x (goal >= 3x); predictions differing: {len(differing)}"
        )
    assert len(harness) == len(reference) == 1000
    assert not differing, f"predictions differ at {differing[:10]}"
