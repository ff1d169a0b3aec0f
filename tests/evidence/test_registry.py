"""The metric registry: canonical names, scoped aliases, percent/fraction detection and refusal."""

from __future__ import annotations

import pytest

from catalog.errors import AmbiguousScaleError, OutOfRangeError
from catalog.evidence.registry import canonical_metric, canonical_task, metric, normalise_value, registry


@pytest.mark.parametrize(
    ("raw", "task", "expected"),
    [
        ("f1", "token-classification", "seqeval-f1"),
        ("eval_f1", "token-classification", "seqeval-f1"),
        ("overall_f1", None, "seqeval-f1"),
        ("f1", "question-answering", "squad-f1"),
        ("exact_match", "question-answering", "squad-exact-match"),
        ("f1", "text-classification", "f1"),
        ("acc", "text-classification", "accuracy"),
        ("accuracy", "token-classification", "token-accuracy"),
        ("accuracy", "image-classification", "top-1-accuracy"),
        ("map", "object-detection", "coco-map"),
        ("map", "feature-extraction", "map"),
        ("Test WER", "automatic-speech-recognition", "wer"),
        ("ndcg_at_10", "feature-extraction", "ndcg-at-10"),
        ("rougeL", "summarization", "rouge-l"),
        ("acc_norm", "text-generation", "accuracy-norm"),
        ("ents_f", None, "seqeval-f1"),
    ],
)
def test_aliases_and_scoped_aliases(raw: str, task: str | None, expected: str) -> None:
    spec = canonical_metric(raw, task)
    assert spec is not None and spec.name == expected


def test_unknown_metric_is_none() -> None:
    assert canonical_metric("loss", "token-classification") is None
    assert canonical_metric("f1", None) is not None  # the unscoped F1 exists
    assert canonical_metric("exact", "text-classification") is None  # SQuAD spelling, only for QA


def test_bench_metric_names_are_canonical() -> None:
    """The names the bench harness stores map into the same registry, unchanged."""
    for name in ("seqeval-f1", "seqeval-precision", "seqeval-recall", "squad-f1", "squad-exact-match", "accuracy",
                 "macro-f1", "wer", "cer", "perplexity", "rouge-1", "rouge-2", "rouge-l", "bleu", "chrf",
                 "top-1-accuracy", "top-5-accuracy", "linear-probe-accuracy", "nearest-centroid-accuracy"):  # fmt: skip
        assert name in registry().metrics
        spec = canonical_metric(name, None)
        assert spec is not None and spec.name == name


def test_declared_scales() -> None:
    acc = metric("accuracy")
    assert normalise_value(acc, 91.3, "percent") == pytest.approx(0.913)
    assert normalise_value(acc, 0.913, "fraction") == pytest.approx(0.913)
    assert normalise_value(metric("perplexity"), 29.41, None) == pytest.approx(29.41)
    with pytest.raises(OutOfRangeError):
        normalise_value(metric("perplexity"), 29.41, "percent")
    with pytest.raises(OutOfRangeError):
        normalise_value(acc, 130.0, "percent")
    with pytest.raises(OutOfRangeError):
        normalise_value(acc, float("nan"), "fraction")


def test_percent_detected_from_the_range() -> None:
    acc = metric("accuracy")
    assert normalise_value(acc, 91.3) == pytest.approx(0.913)
    assert normalise_value(acc, 0.913) == pytest.approx(0.913)
    wer = metric("wer")
    assert normalise_value(wer, 5.2) == pytest.approx(0.052)  # 5.2 as a fraction is beyond plausible WER
    assert normalise_value(wer, 0.3) == pytest.approx(0.3)  # 0.3 % WER is beyond plausible
    assert normalise_value(metric("bleu"), 27.4) == pytest.approx(0.274)


@pytest.mark.parametrize(("name", "value"), [("wer", 0.8), ("wer", 1.2), ("cer", 1.0)])
def test_ambiguous_values_are_refused(name: str, value: float) -> None:
    with pytest.raises(AmbiguousScaleError) as caught:
        normalise_value(metric(name), value)
    assert "declare percent or fraction" in str(caught.value)


def test_implausible_both_ways_is_refused() -> None:
    with pytest.raises(OutOfRangeError):
        normalise_value(metric("accuracy"), 1000.0)


def test_task_names() -> None:
    known = {"ner": "token-classification", "token-classification": "token-classification"}
    assert canonical_task("NER", known) == "token-classification"
    assert canonical_task("abstractive-text-summarization", known) == "summarization"
    assert canonical_task("Speech Recognition", known) == "automatic-speech-recognition"
    assert canonical_task("juggling", known) is None


def test_every_metric_measures_some_task() -> None:
    from catalog.taxonomy import load_taxonomy

    task_ids = {t.id for t in load_taxonomy().tasks}
    for spec in registry().metrics.values():
        assert spec.tasks and set(spec.tasks) <= task_ids, spec.name
