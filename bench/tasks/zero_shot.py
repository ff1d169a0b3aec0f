"""Zero-shot classification on a labelled text-classification set, without training on it: accuracy and macro-F1.

- NLI models (a label named entailment): each text is the premise, "This example is {label}." the hypothesis; the
  label with the highest entailment logit wins (what the transformers zero-shot pipeline does).
- Any other encoder: embedding similarity; the text and each label description ("This example is {label}.") are
  embedded (bench.tasks.embeddings pooling) and the most cosine-similar label wins."""

from __future__ import annotations

from typing import Any

from bench.tasks.classification import model_labels, score
from bench.tasks.common import (
    EvalOutcome,
    EvaluationError,
    Stopwatch,
    length_batches,
    load_tokenizer,
    max_input_length,
    no_grad_forward,
    pad_features,
    pad_id_of,
    prepacked_linear_layers,
)
from bench.tasks.embeddings import embed

TEMPLATE = "This example is {}."


def _entailment_index(config: dict[str, Any]) -> int | None:
    for i, label in enumerate(model_labels(config)):
        if label.lower().startswith("entail"):
            return i
    return None


def _nli(backend: Any, texts: list[str], labels: list[str], batch_size: int, watch: Stopwatch, entail: int) -> Any:
    import torch

    tokenizer = load_tokenizer(backend)
    limit = max_input_length(backend, tokenizer)
    hypotheses = [TEMPLATE.format(label) for label in labels]
    scores = torch.zeros(len(texts), len(labels))
    with watch, prepacked_linear_layers(backend.model, backend.device):
        premises = [t for t in texts for _ in labels]
        pairs = [h for _ in texts for h in hypotheses]
        encoded = tokenizer(premises, pairs, truncation="only_first", max_length=limit)
        features = [{k: encoded[k][i] for k in encoded} for i in range(len(premises))]
        lengths = [len(f["input_ids"]) for f in features]
        pad = pad_id_of(tokenizer)
        for indexes in length_batches(lengths, batch_size):
            batch = pad_features([features[i] for i in indexes], pad, backend.device)
            logits = no_grad_forward(backend.model, batch).logits.float().cpu()
            for row, i in enumerate(indexes):
                scores[i // len(labels), i % len(labels)] = logits[row, entail]
    return scores.argmax(-1).tolist(), max(lengths)


def evaluate(backend: Any, evalset: Any, spec: Any) -> EvalOutcome:
    examples = list(evalset.examples)
    labels = list(evalset.label_names)
    if not labels or not hasattr(examples[0], "label"):
        raise EvaluationError(f"{evalset.name} has no label names to describe; zero-shot needs them.")
    descriptions = [spec.label_map.get(label, label) for label in labels]  # --label-map: label -> description
    texts = [e.text for e in examples]
    watch = Stopwatch(backend.device)
    entail = _entailment_index(backend.config)
    if entail is not None:
        predicted, longest = _nli(backend, texts, descriptions, spec.batch_size, watch, entail)
        method = "NLI entailment"
    else:
        text_vectors, longest = embed(backend, texts, spec.batch_size, watch)
        label_vectors, _ = embed(backend, [TEMPLATE.format(d) for d in descriptions], spec.batch_size, watch)
        predicted = (text_vectors @ label_vectors.T).argmax(1).tolist()
        method = "embedding similarity"
    references = [e.label for e in examples]
    metrics, ci = score(references, predicted, len(labels), spec.n_resamples, spec.seed)
    return EvalOutcome(
        primary_metric="accuracy",
        metrics=metrics,
        ci95=ci,
        n_examples=len(examples),
        seconds=watch.seconds,
        max_seq_len=longest,
        note=f"{method}, hypothesis '{TEMPLATE}'",
        predictions=[labels[p] for p in predicted],
    )
