"""Token classification (NER): seqeval entity-level precision / recall / F1 (conlleval-compatible mode).

Words are the set's tokens (UNER zh: the treebank's words; a Chinese tokenizer splits each into characters, and
the word takes the prediction of its first character). Each word gets its first sub-token's prediction; words cut
off by the model's maximum length are predicted O. The model's entity types are renamed to the set's with
bench.metrics.map_entity_tags (PERSON -> PER ..., types the set does not annotate, e.g. MISC for UNER, -> O);
--label-map adds renames (MODEL_TYPE=SET_TYPE). The 95% intervals bootstrap sentences, recomputing micro P/R/F1
from per-sentence entity counts."""

from __future__ import annotations

from typing import Any

from bench.metrics import ENTITY_TYPE_ALIASES, map_entity_tags, seqeval_scores
from bench.tasks.classification import model_labels
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
    ratio_ci,
)


def predict_tags(
    backend: Any, sentences: list[list[str]], batch_size: int, watch: Stopwatch
) -> tuple[list[list[str]], int]:
    tokenizer = load_tokenizer(backend, split_words=True)
    if not getattr(tokenizer, "is_fast", False):
        raise EvaluationError("Word alignment needs a fast (Rust) tokenizer; this model only has a slow one.")
    limit = max_input_length(backend, tokenizer)
    labels = model_labels(backend.config)
    predictions: list[list[str]] = [["O"] * len(s) for s in sentences]
    with watch, prepacked_linear_layers(backend.model, backend.device):
        encoded = tokenizer(sentences, is_split_into_words=True, truncation=True, max_length=limit)
        features = [{k: encoded[k][i] for k in encoded} for i in range(len(sentences))]
        word_ids = [encoded.word_ids(i) for i in range(len(sentences))]
        lengths = [len(f["input_ids"]) for f in features]
        pad = pad_id_of(tokenizer)
        for indexes in length_batches(lengths, batch_size):
            batch = pad_features([features[i] for i in indexes], pad, backend.device)
            ids = no_grad_forward(backend.model, batch).logits.float().argmax(-1).tolist()
            for row, i in enumerate(indexes):
                seen: set[int] = set()
                for position, word in enumerate(word_ids[i]):
                    if word is not None and word not in seen:
                        seen.add(word)
                        predictions[i][word] = labels[ids[row][position]]
    return predictions, max(lengths)


def entity_counts(references: list[list[str]], predictions: list[list[str]]) -> tuple[list[int], list[int], list[int]]:
    """Per sentence: correctly predicted entities, predicted entities, gold entities (seqeval's default mode)."""
    from seqeval.metrics.sequence_labeling import get_entities

    correct, predicted, gold = [], [], []
    for ref, pred in zip(references, predictions, strict=True):
        true_set, pred_set = set(get_entities(list(ref))), set(get_entities(list(pred)))
        correct.append(len(true_set & pred_set))
        predicted.append(len(pred_set))
        gold.append(len(true_set))
    return correct, predicted, gold


def evaluate(backend: Any, evalset: Any, spec: Any) -> EvalOutcome:
    examples = list(evalset.examples)
    if not examples or not hasattr(examples[0], "tags"):
        raise EvaluationError(f"{evalset.name} is not a token-classification set.")
    types = tuple(evalset.label_names) or tuple(sorted({t[2:] for e in examples for t in e.tags if t != "O"}))
    aliases = dict(ENTITY_TYPE_ALIASES) | {k.upper(): v.upper() for k, v in spec.label_map.items()}
    model_types = {label.split("-", 1)[-1].upper() for label in model_labels(backend.config) if label.upper() != "O"}
    kept = {aliases.get(t, t) for t in model_types} & {t.upper() for t in types}
    if not kept:
        raise EvaluationError(
            f"None of the model's entity types {sorted(model_types)} match the set's {list(types)}; pass "
            f"--label-map, e.g. '{next(iter(sorted(model_types)), 'PERSON')}={types[0] if types else 'PER'}'."
        )
    watch = Stopwatch(backend.device)
    raw, longest = predict_tags(backend, [list(e.tokens) for e in examples], spec.batch_size, watch)
    predictions = [map_entity_tags(tags, types, aliases) for tags in raw]
    references = [list(e.tags) for e in examples]
    scores = seqeval_scores(references, predictions)
    correct, predicted, gold = entity_counts(references, predictions)
    n, seed = spec.n_resamples, spec.seed
    precision_ci = ratio_ci(correct, predicted, n, seed)
    recall_ci = ratio_ci(correct, gold, n, seed)
    f1_ci = ratio_ci([2 * c for c in correct], [p + g for p, g in zip(predicted, gold, strict=True)], n, seed)
    dropped = sorted(model_types - {t.upper() for t in types} - {k for k, v in aliases.items() if v in types})
    return EvalOutcome(
        primary_metric="seqeval-f1",
        metrics={
            "seqeval-precision": scores["precision"],
            "seqeval-recall": scores["recall"],
            "seqeval-f1": scores["f1"],
        },
        ci95={"seqeval-precision": precision_ci, "seqeval-recall": recall_ci, "seqeval-f1": f1_ci},
        n_examples=len(examples),
        seconds=watch.seconds,
        max_seq_len=longest,
        note=f"entity types scored: {', '.join(sorted(kept))}"
        + (f"; scored as O: {', '.join(dropped)}" if dropped else ""),
        predictions=predictions,
    )
