"""Evaluation throughput: `catalog bench run --eval` against the transformers `pipeline` called the usual way, on
the same model and the same 1,000 sentences (rotten_tomatoes_sentence_polarity).

No fine-tuned classifier is available offline, so the model is all-MiniLM-L6-v2 (real encoder weights) with a
freshly initialised 2-label classification head (torch seed 0), saved once to a directory that both paths load:
identical weights, so the predictions must agree. The two run in alternate rounds (a worker process per harness
round, one warmed pipeline throughout), so that background load on a shared machine falls on both; the test prints
every round's examples/s, the medians, the speed-ups and the load average (goal: at least 3x), and asserts only that
the predictions agree, never a speed.

What the rates cover: the harness's examples/s is its evaluation loop in the worker, after the model is loaded and
warmed by a latency shape: tokenising the 1,000 sentences, packing the linear layers for oneDNN, the length-bucketed
forward passes and the argmax (bench.tasks.classification.classify). Reading the set, scoring, the bootstrap
intervals and writing predictions are outside it. The pipeline's rate is one call over the 1,000 sentences
(tokenising, forward passes one sentence at a time, softmax and label names).
Run: CI=true pytest tests/perf/test_eval_perf.py -s -q
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from statistics import median

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


ROUNDS = 3


@pytest.mark.perf
def test_eval_throughput_vs_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require("torch")
    require_shared("evalsets/rotten_tomatoes_sentence_polarity")
    from transformers import pipeline

    from bench import evalsets
    from bench.runner import run_benchmark
    from bench.spec import BenchSpec, EvalSpec

    model_dir = _classifier(tmp_path / "minilm-cls")
    texts = [e.text for e in evalsets.load("rotten_tomatoes_sentence_polarity").examples]
    classifier = pipeline("text-classification", model=str(model_dir), device="cpu")
    classifier(texts[:8])  # warm-up, as the harness's latency shapes warm its process

    harness_rates: list[float] = []
    pipeline_rates: list[float] = []
    loads: list[float] = []
    differing: list[int] = []
    accuracy = 0.0
    for round_ in range(ROUNDS):  # interleaved, so that both see the same background load
        predictions_file = tmp_path / f"predictions-{round_}.jsonl"
        spec = BenchSpec(models=(str(model_dir),), seq_lens=(8,), budget_s=0.3,
                         evaluation=EvalSpec(name="rotten_tomatoes_sentence_polarity",
                                             save_predictions=str(predictions_file)))  # fmt: skip
        outcome = run_benchmark(spec, store=False)
        (result,) = [r for r in outcome.results if r.eval_set]
        assert result.status == "ok", result.error
        assert result.examples_per_s is not None
        harness_rates.append(result.examples_per_s)
        accuracy = result.metrics["accuracy"]
        harness = [json.loads(line)["prediction"] for line in predictions_file.read_text().splitlines()]

        start = time.perf_counter()
        reference = [out["label"] for out in classifier(texts)]
        pipeline_rates.append(len(texts) / (time.perf_counter() - start))
        loads.append(os.getloadavg()[0])

        assert len(harness) == len(reference) == 1000
        differing += [i for i, (a, b) in enumerate(zip(harness, reference, strict=True)) if a != b]

    ratios = [h / p for h, p in zip(harness_rates, pipeline_rates, strict=True)]
    with capsys.disabled():
        print(
            f"\n[perf] evaluation throughput, 1,000 sentences, all-MiniLM-L6-v2 + 2-label head, cpu float32, "
            f"{ROUNDS} interleaved rounds (1-min load average after each: {_numbers(loads, '.2f')}):\n"
            f"  catalog bench run --eval: median {median(harness_rates):6.1f} examples/s "
            f"(rounds {_numbers(harness_rates, '.1f')}; accuracy {accuracy:.3f})\n"
            f"  transformers pipeline:    median {median(pipeline_rates):6.1f} examples/s "
            f"(rounds {_numbers(pipeline_rates, '.1f')})\n"
            f"  speed-up: median {median(ratios):.2f}x (rounds {_numbers(ratios, '.2f')}; goal >= 3x); "
            f"predictions differing: {len(differing)}"
        )
    assert not differing, f"predictions differ at {differing[:10]}"


def _numbers(values: list[float], spec: str) -> str:
    return " ".join(format(v, spec) for v in values)
