"""Pieces of the accuracy harness against independent computations: bootstrap shortcuts vs the metric library,
option parsing and validation, refusals, batching and the prepacked linear layers. No pretrained models."""

from __future__ import annotations

import random

import pytest

from bench.metrics import bootstrap_ci_statistic, macro_f1, seqeval_scores
from bench.spec import BenchSpec, EvalSpec, parse_label_map
from bench.tasks import data_task_for, get_runner
from bench.tasks.classification import label_mapping, macro_f1_ci
from bench.tasks.common import EvaluationError, length_batches, prepacked_linear_layers, ratio_ci
from bench.tasks.token_classification import entity_counts
from catalog.errors import UsageError
from tests.bench.helpers import require


def test_label_map_parsing() -> None:
    assert parse_label_map("POS=positive, NEG=negative") == {"POS": "positive", "NEG": "negative"}
    assert parse_label_map('{"LABEL_0": "negative"}') == {"LABEL_0": "negative"}
    assert parse_label_map(None) == {}
    for bad in ("POS", "[1, 2]", "{bad json"):
        with pytest.raises(UsageError):
            parse_label_map(bad)


def test_eval_spec_validation_and_random_refusal() -> None:
    with pytest.raises(UsageError, match="exactly one"):
        EvalSpec()
    with pytest.raises(UsageError, match="--limit"):
        EvalSpec(name="sst2", limit=0)
    assert EvalSpec(file="/x/mine.csv").label == "file:mine.csv"
    with pytest.raises(UsageError, match="--allow-random-eval"):
        BenchSpec(models=("random:bert",), evaluation=EvalSpec(name="sst2"))
    with pytest.raises(UsageError, match="random weights"):
        BenchSpec(models=("some/model",), no_weights=True, evaluation=EvalSpec(name="sst2"))
    BenchSpec(models=("random:bert",), evaluation=EvalSpec(name="sst2", allow_random=True))


def test_runner_registry_and_data_tasks() -> None:
    assert callable(get_runner("text-classification"))
    with pytest.raises(Exception, match="Did you mean"):
        get_runner("text-clasification")
    assert data_task_for("feature-extraction", ("text-classification", "feature-extraction")) == "text-classification"
    with pytest.raises(EvaluationError, match="needs question-answering data"):
        data_task_for("question-answering", ("text-classification",))


def test_label_mapping_by_name_explicit_and_refusal() -> None:
    config = {"id2label": {"0": "NEG", "1": "POS"}, "num_labels": 2}
    assert label_mapping(config, ("negative", "positive"), {}).method == "synonym"
    explicit = label_mapping(config, ("bad", "good"), {"NEG": "bad", "POS": "good"})
    assert explicit.map_all(["POS", "NEG"]) == [1, 0]
    with pytest.raises(EvaluationError, match="--label-map"):
        label_mapping({"id2label": {"0": "A", "1": "B", "2": "C"}}, ("negative", "positive"), {})
    with pytest.raises(EvaluationError, match="does not have"):
        label_mapping(config, ("bad", "good"), {"NEG": "awful"})


def test_macro_f1_interval_matches_the_library_bootstrap() -> None:
    rng = random.Random(1)
    refs = [rng.randrange(3) for _ in range(200)]
    preds = [r if rng.random() < 0.6 else rng.randrange(3) for r in refs]
    fast = macro_f1_ci(refs, preds, 3, 300, seed=4)
    slow = bootstrap_ci_statistic(
        lambda idx: macro_f1([refs[i] for i in idx], [preds[i] for i in idx], [0, 1, 2]), 200, n_resamples=300, seed=4
    )
    assert fast == pytest.approx([slow.low, slow.high], abs=1e-12)


def test_entity_counts_reproduce_seqeval_and_its_bootstrap() -> None:
    refs = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG"], ["B-LOC", "O", "B-PER"], ["O"]]
    preds = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "B-ORG"], ["B-LOC", "O", "O"], ["B-PER"]]
    correct, predicted, gold = entity_counts(refs, preds)
    scores = seqeval_scores(refs, preds)
    assert sum(correct) / sum(predicted) == pytest.approx(scores["precision"])
    assert sum(correct) / sum(gold) == pytest.approx(scores["recall"])
    assert 2 * sum(correct) / (sum(predicted) + sum(gold)) == pytest.approx(scores["f1"])
    fast = ratio_ci([2 * c for c in correct], [p + g for p, g in zip(predicted, gold, strict=True)], 200, 0)
    slow = bootstrap_ci_statistic(
        lambda idx: seqeval_scores([refs[i] for i in idx], [preds[i] for i in idx])["f1"], 4, n_resamples=200, seed=0
    )
    assert fast == pytest.approx([slow.low, slow.high], abs=1e-12)


def test_length_batches_cover_every_example_once_longest_first() -> None:
    lengths = [5, 1, 9, 3, 7]
    batches = list(length_batches(lengths, 2))
    assert sorted(i for b in batches for i in b) == [0, 1, 2, 3, 4]
    assert batches[0] == [2, 4] and all(len(b) <= 2 for b in batches)


def test_length_batches_trade_padding_against_the_number_of_batches() -> None:
    def shape(batches: list[list[int]], lengths: list[int]) -> list[tuple[int, int]]:
        return [(len(b), max(lengths[i] for i in b)) for b in batches]

    mixed = [10] * 5 + [3] * 5  # chunks of 8 would pad three 3-token inputs to 10 (21 tokens; a batch costs 16)
    assert shape(list(length_batches(mixed, 8)), mixed) == [(5, 10), (5, 3)]
    assert shape(list(length_batches(mixed, 10)), mixed) == [(5, 10), (5, 3)]
    assert shape(list(length_batches(mixed, 10, overhead_tokens=100)), mixed) == [(10, 10)]
    same = [7] * 10
    assert shape(list(length_batches(same, 4)), same) == [(4, 7), (4, 7), (2, 7)]
    assert list(length_batches([], 4)) == []


def test_prepacked_linear_layers_agree_with_plain_ones_and_are_undone() -> None:
    torch = require("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.GELU(), torch.nn.Linear(64, 4, bias=False))
    x = torch.randn(3, 5, 16)
    with torch.inference_mode():
        plain = model(x)
        with prepacked_linear_layers(model, "cpu") as packed:
            fast = model(x)
            patched = ["forward" in layer.__dict__ for layer in (model[0], model[2])]
        after = model(x)
    if torch.backends.mkldnn.is_available():
        assert packed == 2 and patched == [True, True]
    assert torch.allclose(fast, plain, atol=1e-5) and torch.equal(after, plain)
    assert not any("forward" in layer.__dict__ for layer in model)
    for device, dtype in (("cuda", torch.float32), ("cpu", torch.float64)):
        with prepacked_linear_layers(model.to(dtype), device) as packed:
            assert packed == 0
