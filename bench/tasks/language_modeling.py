"""Language modelling.

Perplexity (text-generation): the set's lines joined with "\\n" (EvalSet.full_text), tokenised once without special
tokens; --limit keeps the first N tokens. Strided windows (bench.metrics.stride_windows, the plan of the Hugging
Face "perplexity of fixed-length models" guide): window length --eval-max-length (default 512, capped by the
model's positions), a new window every --stride tokens (default half the window), so each scored token sees at
least max_length - stride tokens of context, and every token but the first is scored exactly once. The NLL is
summed exactly over the scored positions (log-softmax in float32), perplexity = exp(sum NLL / scored tokens).
n_examples is the number of scored tokens; examples/s is tokens/s. The 95% interval bootstraps windows (sums of
NLL and of tokens), a block bootstrap that keeps neighbouring tokens together.

Fill-mask: one random non-special token per sentence (seeded) replaced by the mask token; top-1 / top-5 accuracy
of the original token at that position."""

from __future__ import annotations

import math
import random
from typing import Any

from bench.metrics import perplexity, stride_windows
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
    ratio_ci,
)

DEFAULT_WINDOW = 512


def text_tokens(tokenizer: Any, text: str, limit: int | None) -> list[int]:
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return ids[:limit] if limit else ids


def window_nll(model: Any, ids: list[int], windows: list[Any], batch_size: int, device: str) -> list[tuple[float, int]]:
    """Per window: (sum of NLL in nats over its scored tokens, how many). Windows of equal length share a batch."""
    import torch

    results: list[tuple[float, int]] = [(0.0, 0)] * len(windows)
    order = list(range(len(windows)))
    for start in range(0, len(order), batch_size):
        group = order[start : start + batch_size]
        by_length: dict[int, list[int]] = {}
        for i in group:
            by_length.setdefault(windows[i].end - windows[i].begin, []).append(i)
        for length, members in by_length.items():
            batch = torch.tensor([ids[windows[i].begin : windows[i].end] for i in members], device=device)
            with torch.inference_mode():
                logits = model(input_ids=batch, attention_mask=torch.ones_like(batch)).logits
            log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            targets = batch[:, 1:]
            nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # nll[:, j] scores token j + 1
            for row, i in enumerate(members):
                w = windows[i]
                first = max(w.target_begin, w.begin + 1) - w.begin  # the text's first token is never scored
                scored = nll[row, first - 1 : length - 1]
                results[i] = (float(scored.sum()), int(scored.numel()))
            del logits, log_probs, nll
    return results


def evaluate_perplexity(backend: Any, evalset: Any, spec: Any) -> EvalOutcome:
    if not hasattr(evalset, "full_text"):
        raise EvaluationError("Perplexity needs a text set (e.g. wikitext2).")
    tokenizer = load_tokenizer(backend)
    window = min(spec.max_length or DEFAULT_WINDOW, max_input_length(backend, tokenizer, default=1 << 30))
    stride = spec.stride or max(1, window // 2)
    if stride > window:
        raise EvaluationError(f"--stride {stride} is longer than the window ({window} tokens).")
    watch = Stopwatch(backend.device)
    with watch:
        ids = text_tokens(tokenizer, evalset.full_text(), spec.limit)
        if len(ids) < 2:
            raise EvaluationError("The text has fewer than two tokens; nothing to score.")
        windows = stride_windows(len(ids), window, stride)
        per_window = window_nll(backend.model, ids, windows, max(1, spec.batch_size // 8), backend.device)
    nll_total = sum(n for n, _ in per_window)
    count = sum(c for _, c in per_window)
    value = perplexity(nll_total, count)
    ci = ratio_ci([n for n, _ in per_window], [c for _, c in per_window], spec.n_resamples, spec.seed,
                  transform=_exp)  # fmt: skip
    return EvalOutcome(
        primary_metric="perplexity",
        metrics={"perplexity": value, "nll-per-token": nll_total / count},
        ci95={"perplexity": ci, "nll-per-token": [math.log(ci[0]), math.log(ci[1])]},
        n_examples=count,
        seconds=watch.seconds,
        max_seq_len=window,
        note=f"{count} tokens scored, window {window}, stride {stride}, {len(windows)} windows; n = tokens",
    )


def _exp(values: Any) -> Any:
    import numpy as np

    return np.exp(values)


def evaluate_fill_mask(backend: Any, evalset: Any, spec: Any) -> EvalOutcome:
    tokenizer = load_tokenizer(backend)
    if tokenizer.mask_token_id is None:
        raise EvaluationError("The tokenizer has no mask token: this model is not a masked language model.")
    limit = max_input_length(backend, tokenizer)
    texts = [e.text for e in evalset.examples if e.text.strip()]
    rng = random.Random(spec.seed)
    special = set(tokenizer.all_special_ids)
    watch = Stopwatch(backend.device)
    features: list[dict[str, Any]] = []
    positions: list[int] = []
    originals: list[int] = []
    ranked: list[list[int]] = []
    with watch:
        encoded = tokenizer(texts, truncation=True, max_length=limit)
        for i in range(len(texts)):
            ids = list(encoded["input_ids"][i])
            candidates = [j for j, t in enumerate(ids) if t not in special]
            if not candidates:
                continue
            position = rng.choice(candidates)
            originals.append(ids[position])
            ids[position] = tokenizer.mask_token_id
            positions.append(position)
            features.append({k: (ids if k == "input_ids" else list(encoded[k][i])) for k in encoded})
        ranked = [[] for _ in features]
        pad = pad_id_of(tokenizer)
        lengths = [len(f["input_ids"]) for f in features]
        for indexes in length_batches(lengths, spec.batch_size):
            batch = pad_features([features[i] for i in indexes], pad, backend.device)
            logits = no_grad_forward(backend.model, batch).logits
            for row, i in enumerate(indexes):
                ranked[i] = logits[row, positions[i]].float().topk(5).indices.tolist()
    if not features:
        raise EvaluationError("No sentence has a token to mask.")
    top1 = [float(r[0] == o) for r, o in zip(ranked, originals, strict=True)]
    top5 = [float(o in r[:5]) for r, o in zip(ranked, originals, strict=True)]
    return EvalOutcome(
        primary_metric="top-1-accuracy",
        metrics={"top-1-accuracy": sum(top1) / len(top1), "top-5-accuracy": sum(top5) / len(top5)},
        ci95={
            "top-1-accuracy": mean_ci(top1, spec.n_resamples, spec.seed),
            "top-5-accuracy": mean_ci(top5, spec.n_resamples, spec.seed),
        },
        n_examples=len(features),
        seconds=watch.seconds,
        max_seq_len=max(lengths),
        note=f"one random non-special token masked per sentence (seed {spec.seed})",
        predictions=[tokenizer.convert_ids_to_tokens(r[0]) for r in ranked],
    )
