"""Feature extraction / sentence similarity: how much a labelled text-classification set's classes are linearly
separable in the model's embedding space, as MTEB's classification tasks measure it.

Embeddings: the model's last hidden state pooled as its sentence-transformers config says (1_Pooling/config.json:
mean over the attention mask by default, or CLS), L2-normalised when the pipeline has a Normalize module (and
always for plain Hugging Face encoders, so cosine and Euclidean agree).
Scores, both over the same stratified 5-fold cross-validation (shuffled, seeded), every example predicted once
by a classifier that never saw it:
- linear-probe-accuracy: scikit-learn LogisticRegression (lbfgs, max_iter 1000), the primary metric;
- nearest-centroid-accuracy: the class whose mean training embedding is closest (no fitting, no tuning).
The 95% intervals bootstrap the out-of-fold hits (the folds' training noise is not in them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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

FOLDS = 5


def pooling_of(path: str | None) -> tuple[str, bool]:
    """('mean' | 'cls' | 'max', normalise) from a sentence-transformers directory; ('mean', True) otherwise."""
    if not path:
        return "mean", True
    directory = Path(path)
    mode = "mean"
    normalise = True
    modules = directory / "modules.json"
    if modules.is_file():
        entries = json.loads(modules.read_text(encoding="utf-8"))
        normalise = any(str(e.get("type", "")).endswith("Normalize") for e in entries)
        for entry in entries:
            if str(entry.get("type", "")).endswith("Pooling"):
                config = directory / str(entry.get("path", "1_Pooling")) / "config.json"
                if config.is_file():
                    data = json.loads(config.read_text(encoding="utf-8"))
                    if data.get("pooling_mode_cls_token"):
                        mode = "cls"
                    elif data.get("pooling_mode_max_tokens"):
                        mode = "max"
    return mode, normalise


def hidden_states(model: Any, batch: dict[str, Any]) -> Any:
    """The last hidden state of an encoder, also through a task head (ForSequenceClassification ...)."""
    output = no_grad_forward(getattr(model, "base_model", model), batch)
    hidden = getattr(output, "last_hidden_state", None)
    if hidden is None:
        hidden = output[0]
    return hidden


def embed(backend: Any, texts: list[str], batch_size: int, watch: Stopwatch) -> tuple[Any, int]:
    """(n, dim) float32 numpy embeddings in the order of `texts`, and the longest input."""
    import numpy as np
    import torch

    tokenizer = load_tokenizer(backend)
    limit = max_input_length(backend, tokenizer)
    mode, normalise = pooling_of(backend.job.path)
    rows: list[Any] = [None] * len(texts)
    with watch, prepacked_linear_layers(backend.model, backend.device):
        encoded = tokenizer(texts, truncation=True, max_length=limit)
        features = [{k: encoded[k][i] for k in encoded} for i in range(len(texts))]
        lengths = [len(f["input_ids"]) for f in features]
        pad = pad_id_of(tokenizer)
        for indexes in length_batches(lengths, batch_size):
            batch = pad_features([features[i] for i in indexes], pad, backend.device)
            hidden = hidden_states(backend.model, batch).float()
            mask = batch["attention_mask"].unsqueeze(-1).float()
            if mode == "cls":
                pooled = hidden[:, 0]
            elif mode == "max":
                pooled = hidden.masked_fill(mask == 0, -1e9).max(1).values
            else:
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            if normalise:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            for i, row in zip(indexes, pooled.cpu().numpy(), strict=True):
                rows[i] = row
    return np.stack(rows).astype(np.float32), max(lengths)


def probe_predictions(embeddings: Any, labels: list[int], seed: int) -> tuple[list[int], list[int]]:
    """Out-of-fold predictions of a logistic-regression probe and of nearest centroid, same stratified folds."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import NearestCentroid

    y = np.asarray(labels)
    counts = np.bincount(y)
    folds = min(FOLDS, int(counts[counts > 0].min()))
    if folds < 2 or len(set(labels)) < 2:
        raise EvaluationError(
            "A linear probe needs at least two classes with two examples each; raise --limit or use a bigger set."
        )
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    probe = cross_val_predict(LogisticRegression(max_iter=1000), embeddings, y, cv=cv)
    centroid = cross_val_predict(NearestCentroid(), embeddings, y, cv=cv)
    return [int(p) for p in probe], [int(p) for p in centroid]


def evaluate(backend: Any, evalset: Any, spec: Any) -> EvalOutcome:
    examples = list(evalset.examples)
    if not examples or not hasattr(examples[0], "label"):
        raise EvaluationError(f"{evalset.name} has no class labels; a linear probe needs a text-classification set.")
    watch = Stopwatch(backend.device)
    embeddings, longest = embed(backend, [e.text for e in examples], spec.batch_size, watch)
    labels = [e.label for e in examples]
    probe, centroid = probe_predictions(embeddings, labels, spec.seed)
    probe_hits = [float(p == t) for p, t in zip(probe, labels, strict=True)]
    centroid_hits = [float(p == t) for p, t in zip(centroid, labels, strict=True)]
    metrics = {
        "linear-probe-accuracy": sum(probe_hits) / len(probe_hits),
        "nearest-centroid-accuracy": sum(centroid_hits) / len(centroid_hits),
    }
    ci = {
        "linear-probe-accuracy": mean_ci(probe_hits, spec.n_resamples, spec.seed),
        "nearest-centroid-accuracy": mean_ci(centroid_hits, spec.n_resamples, spec.seed),
    }
    return EvalOutcome(
        primary_metric="linear-probe-accuracy",
        metrics=metrics,
        ci95=ci,
        n_examples=len(examples),
        seconds=watch.seconds,
        max_seq_len=longest,
        note=f"stratified {min(FOLDS, len(examples))}-fold cross-validation, seed {spec.seed}",
        predictions=[evalset.label_names[p] for p in probe],
    )
