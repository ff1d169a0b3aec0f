"""Text classification: accuracy and macro-F1. The model's label names (config.id2label) are matched to the set's
by name (bench.metrics.map_labels: same name, synonyms, star ratings, LABEL_k by position); --label-map overrides,
and nothing matching is a refusal, never a score against arbitrary labels."""

from __future__ import annotations

from typing import Any

from bench.metrics import LabelMapping, LabelMappingError, accuracy, macro_f1, map_labels
from bench.tasks.common import (
    EvalOutcome,
    EvaluationError,
    Stopwatch,
    length_batches,
    load_tokenizer,
    max_input_length,
    mean_ci,
    no_grad_forward,
    pad_features,
    pad_id_of,
    prepacked_linear_layers,
)


def model_labels(config: dict[str, Any]) -> list[str]:
    id2label = config.get("id2label") or {}
    n = int(config.get("num_labels") or len(id2label) or 0)
    return [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(n)]


def explicit_mapping(label_map: dict[str, str], labels: list[str], dataset: tuple[str, ...]) -> LabelMapping:
    """--label-map MODEL=DATASET pairs; model labels left out abstain (always scored wrong)."""
    index = {name: i for i, name in enumerate(dataset)}
    unknown_model = [m for m in label_map if m not in labels]
    unknown_data = [d for d in label_map.values() if d not in index]
    if unknown_model or unknown_data:
        raise EvaluationError(
            "--label-map names "
            + (f"model labels {unknown_model} the model does not have (it has {labels})" if unknown_model else "")
            + ("; " if unknown_model and unknown_data else "")
            + (f"dataset labels {unknown_data} the set does not have (it has {list(dataset)})" if unknown_data else "")
            + "."
        )
    mapping = {m: index[d] for m, d in label_map.items()}
    return LabelMapping(mapping, dataset, "explicit", tuple(m for m in labels if m not in mapping))


def label_mapping(config: dict[str, Any], dataset: tuple[str, ...], label_map: dict[str, str]) -> LabelMapping:
    labels = model_labels(config)
    if not labels:
        raise EvaluationError("The model declares no labels (config num_labels / id2label); it is not a classifier.")
    if label_map:
        return explicit_mapping(label_map, labels, dataset)
    try:
        return map_labels(labels, dataset)
    except LabelMappingError as exc:
        example = ",".join(f"{m}={d}" for m, d in zip(labels, dataset, strict=False))
        raise EvaluationError(f"{exc} For example: --label-map '{example}'.") from None


def classify(
    backend: Any, texts: list[str], pairs: list[str] | None, batch_size: int, watch: Stopwatch
) -> tuple[list[int], int]:
    """Argmax class ids in the order of `texts`, and the longest input length: one tokenizer call for the whole
    set, batches cut by token length (bench.tasks.common.length_batches) and the linear layers prepacked for
    oneDNN on CPU (prepacked_linear_layers), all inside `watch`."""
    tokenizer = load_tokenizer(backend)
    limit = max_input_length(backend, tokenizer)
    predictions = [0] * len(texts)
    with watch, prepacked_linear_layers(backend.model, backend.device):
        encoded = (
            tokenizer(texts, pairs, truncation=True, max_length=limit)
            if pairs
            else tokenizer(texts, truncation=True, max_length=limit)
        )
        features = [{k: encoded[k][i] for k in encoded} for i in range(len(texts))]
        lengths = [len(f["input_ids"]) for f in features]
        pad = pad_id_of(tokenizer)
        for indexes in length_batches(lengths, batch_size):
            batch = pad_features([features[i] for i in indexes], pad, backend.device)
            logits = no_grad_forward(backend.model, batch).logits
            for i, label in zip(indexes, logits.float().argmax(-1).tolist(), strict=True):
                predictions[i] = label
    return predictions, max(lengths)


def macro_f1_ci(
    references: list[int], predicted: list[int], n_classes: int, n_resamples: int, seed: int
) -> list[float]:
    """Bootstrap interval of macro-F1, vectorised: per class, true positives, false positives and false negatives
    summed over each resample's index row (scikit-learn per resample takes seconds; this takes milliseconds)."""
    import numpy as np

    refs, preds = np.asarray(references), np.asarray(predicted)
    idx = np.random.default_rng(seed).integers(0, len(refs), size=(n_resamples, len(refs)))
    f1s = []
    for c in range(n_classes):
        tp = ((refs == c) & (preds == c))[idx].sum(1)
        fp = ((refs != c) & (preds == c))[idx].sum(1)
        fn = ((refs == c) & (preds != c))[idx].sum(1)
        denominator = 2 * tp + fp + fn
        f1s.append(np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0))
    low, high = np.quantile(np.mean(f1s, axis=0), [0.025, 0.975])
    return [float(low), float(high)]


def score(
    references: list[int], predicted: list[int], n_classes: int, n_resamples: int, seed: int
) -> tuple[dict[str, float], dict[str, list[float]]]:
    labels = list(range(n_classes))
    hits = [float(r == p) for r, p in zip(references, predicted, strict=True)]
    metrics = {"accuracy": accuracy(references, predicted), "macro-f1": macro_f1(references, predicted, labels)}
    ci = {
        "accuracy": mean_ci(hits, n_resamples, seed),
        "macro-f1": macro_f1_ci(references, predicted, n_classes, n_resamples, seed),
    }
    return metrics, ci


def evaluate(backend: Any, evalset: Any, spec: Any) -> EvalOutcome:
    dataset = tuple(evalset.label_names)
    mapping = label_mapping(backend.config, dataset, spec.label_map)
    examples = list(evalset.examples)
    texts = [e.text for e in examples]
    pairs = [e.text_pair or "" for e in examples] if any(e.text_pair for e in examples) else None
    watch = Stopwatch(backend.device)
    labels = model_labels(backend.config)
    raw, longest = classify(backend, texts, pairs, spec.batch_size, watch)
    predicted = mapping.map_all([labels[i] for i in raw])
    references = [e.label for e in examples]
    metrics, ci = score(references, predicted, len(dataset), spec.n_resamples, spec.seed)
    note = f"labels mapped by {mapping.method}" + (f"; {list(mapping.unmapped)} abstain" if mapping.unmapped else "")
    return EvalOutcome(
        primary_metric="accuracy",
        metrics=metrics,
        ci95=ci,
        n_examples=len(examples),
        seconds=watch.seconds,
        max_seq_len=longest,
        note=note,
        predictions=[labels[i] for i in raw],
    )
