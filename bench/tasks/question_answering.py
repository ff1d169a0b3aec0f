"""Extractive question answering: SQuAD v1.1 exact match / F1 (CMRC 2018 rules for Chinese sets), scored on text.

Question and context are encoded as a pair, the context truncated into overlapping features (max length 384,
stride 128, as the Hugging Face QA examples do). The answer is the span over context tokens with the highest
start + end logit, end >= start, at most 30 tokens, across all features of the example; its text is cut from the
context with the tokenizer's character offsets."""

from __future__ import annotations

from typing import Any

from bench.metrics import squad_scores
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

MAX_LENGTH = 384
DOC_STRIDE = 128
MAX_ANSWER_TOKENS = 30


def best_span(start: Any, end: Any, context_mask: Any, max_tokens: int) -> tuple[float, int, int]:
    """(score, start, end) of the best span inside the context, end >= start, end - start < max_tokens."""
    import torch

    n = start.shape[0]
    scores = start[:, None] + end[None, :]
    allowed = torch.ones(n, n, dtype=torch.bool).triu().tril(max_tokens - 1)
    allowed &= context_mask[:, None] & context_mask[None, :]
    scores = scores.masked_fill(~allowed, float("-inf"))
    flat = int(scores.argmax())
    return float(scores.view(-1)[flat]), flat // n, flat % n


def evaluate(backend: Any, evalset: Any, spec: Any) -> EvalOutcome:
    import torch

    examples = list(evalset.examples)
    if not examples or not hasattr(examples[0], "context"):
        raise EvaluationError(f"{evalset.name} is not a question-answering set.")
    tokenizer = load_tokenizer(backend)
    if not getattr(tokenizer, "is_fast", False):
        raise EvaluationError("Answer extraction needs a fast tokenizer (character offsets); this one is slow.")
    limit = min(spec.max_length or MAX_LENGTH, max_input_length(backend, tokenizer))
    stride = min(DOC_STRIDE, limit // 2)
    pad_right = tokenizer.padding_side == "right"
    watch = Stopwatch(backend.device)
    best: list[tuple[float, str]] = [(float("-inf"), "")] * len(examples)
    with watch, prepacked_linear_layers(backend.model, backend.device):
        questions = [e.question.lstrip() for e in examples]
        contexts = [e.context for e in examples]
        encoded = tokenizer(
            questions if pad_right else contexts,
            contexts if pad_right else questions,
            truncation="only_second" if pad_right else "only_first",
            max_length=limit,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        owners = encoded["overflow_to_sample_mapping"]
        context_index = 1 if pad_right else 0
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded]
        features = [{k: encoded[k][i] for k in keys} for i in range(len(owners))]
        lengths = [len(f["input_ids"]) for f in features]
        pad = pad_id_of(tokenizer)
        for indexes in length_batches(lengths, spec.batch_size):
            batch = pad_features([features[i] for i in indexes], pad, backend.device)
            output = no_grad_forward(backend.model, batch)
            starts, ends = output.start_logits.float().cpu(), output.end_logits.float().cpu()
            for row, i in enumerate(indexes):
                sequence_ids = encoded.sequence_ids(i)
                mask = torch.tensor(
                    [s == context_index for s in sequence_ids] + [False] * (starts.shape[1] - len(sequence_ids))
                )
                if not mask.any():
                    continue
                score, s, e = best_span(starts[row], ends[row], mask, MAX_ANSWER_TOKENS)
                owner = owners[i]
                if score > best[owner][0]:
                    offsets = encoded["offset_mapping"][i]
                    best[owner] = (score, contexts[owner][offsets[s][0] : offsets[e][1]])
    predictions = [text for _, text in best]
    language = (evalset.spec.language or "en").split("-")[0]
    scores = squad_scores(predictions, [e.answer_texts for e in examples], language=language)
    em, f1 = scores["per_example"]["exact_match"], scores["per_example"]["f1"]
    rules = "CMRC 2018" if language.startswith("zh") else "SQuAD v1.1"
    return EvalOutcome(
        primary_metric="squad-f1",
        metrics={"squad-exact-match": scores["exact_match"], "squad-f1": scores["f1"]},
        ci95={
            "squad-exact-match": mean_ci(em, spec.n_resamples, spec.seed),
            "squad-f1": mean_ci(f1, spec.n_resamples, spec.seed),
        },
        n_examples=len(examples),
        seconds=watch.seconds,
        max_seq_len=max(lengths),
        note=f"{rules} scoring; {len(features)} features (max length {limit}, stride {stride})",
        predictions=predictions,
    )
